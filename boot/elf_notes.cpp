// ELF notes; see elf_notes.h. Name and descriptor are padded as in the
// notes Linux and GNU tools emit.
#include "boot/elf_notes.h"

#include "boot/image_bytes.h"

#include <elf.h>

#include <algorithm>
#include <string_view>

namespace skiff::boot {

namespace {

static_assert(sizeof(Elf32_Nhdr) == sizeof(Elf64_Nhdr), "both ELF classes share the note header");

std::string_view note_name(std::span<const std::byte> name) {
    std::string_view text(reinterpret_cast<const char*>(name.data()), name.size());
    // namesz counts the terminating NUL.
    if (!text.empty() && text.back() == '\0') {
        text.remove_suffix(1);
    }
    return text;
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

Result<void> scan_elf_notes(std::span<const std::byte> notes, uint64_t alignment, ElfNoteFindings& findings) {
    uint64_t offset = 0;
    while (notes.size() - offset >= sizeof(Elf64_Nhdr)) {
        auto header = *read_at<Elf64_Nhdr>(notes, offset);
        uint64_t name_offset = offset + sizeof(Elf64_Nhdr);
        // namesz and descsz are 32-bit: the sums below cannot overflow.
        uint64_t descriptor_offset = align_up(name_offset + header.n_namesz, alignment);
        uint64_t next = align_up(descriptor_offset + header.n_descsz, alignment);
        auto name = sub_span(notes, name_offset, header.n_namesz);
        auto descriptor = sub_span(notes, descriptor_offset, header.n_descsz);
        if (!name || !descriptor) {
            return Error::format("ELF note at segment offset {:#x} (namesz {}, descsz {}) overruns its PT_NOTE segment",
                                 offset, header.n_namesz, header.n_descsz);
        }
        std::string_view owner = note_name(*name);
        if (owner == "Linux") {
            findings.linux_note = true;
        }
        if (owner == "Xen" && header.n_type == kXenElfnotePhys32Entry) {
            // Linux's vmlinux stores a 64-bit value, older producers 32 bits.
            if (header.n_descsz == 8) {
                findings.pvh_entry = *read_at<uint64_t>(*descriptor, 0);
            } else if (header.n_descsz == 4) {
                findings.pvh_entry = *read_at<uint32_t>(*descriptor, 0);
            } else {
                return Error::format("ELF Xen PHYS32_ENTRY note has a {}-byte descriptor (expected 4 or 8)",
                                     header.n_descsz);
            }
        }
        offset = std::min<uint64_t>(next, notes.size());
    }
    return {};
}

}  // namespace skiff::boot
