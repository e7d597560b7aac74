// ELF64 x86-64 kernel checks (System V gABI, ELF-64 object file format):
// the file header, PT_LOAD segments inside the file and free of overflow,
// the 64-bit entry translated from its link (virtual) address to where the
// segment loads, and the notes: Xen's XEN_ELFNOTE_PHYS32_ENTRY (the PVH
// entry, Xen public/elfnote.h) and a note named "Linux".
#include "boot/image_bytes.h"
#include "boot/kernel_image.h"

#include <elf.h>

#include <string_view>

namespace skiff::boot {

namespace {

constexpr uint32_t kXenElfnotePhys32Entry = 18;
// x86-64 physical addresses have at most 52 bits; anything beyond is absurd.
constexpr uint64_t kPhysicalAddressLimit = uint64_t{1} << 52;
// PVH enters in 32-bit protected mode.
constexpr uint64_t kPvhEntryLimit = uint64_t{1} << 32;
// Far more than any kernel has; bounds the work a hostile header can cause.
constexpr uint64_t kMaxProgramHeaders = 1024;

struct NoteFindings {
    std::optional<uint64_t> pvh_entry;
    bool linux_note = false;
};

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

// Walks the notes of one PT_NOTE segment (already checked to lie inside the
// file). Name and descriptor are padded to 4 bytes (8 when the segment says
// so), as in the notes Linux and GNU tools emit.
Result<void> scan_notes(std::span<const std::byte> notes, uint64_t alignment, NoteFindings& findings) {
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

Result<void> check_file_header(const Elf64_Ehdr& header, uint64_t file_size) {
    if (header.e_ident[EI_CLASS] != ELFCLASS64) {
        return Error::format("ELF class {} is not ELFCLASS64: not a 64-bit kernel", header.e_ident[EI_CLASS]);
    }
    if (header.e_ident[EI_DATA] != ELFDATA2LSB) {
        return Error{"ELF image is not little-endian"};
    }
    if (header.e_ident[EI_VERSION] != EV_CURRENT || header.e_version != EV_CURRENT) {
        return Error::format("ELF version {} is not 1", header.e_version);
    }
    if (header.e_machine != EM_X86_64) {
        return Error::format("ELF machine {} is not x86-64 ({})", header.e_machine, EM_X86_64);
    }
    if (header.e_type != ET_EXEC) {
        return Error::format("ELF type {} is not an executable (ET_EXEC)", header.e_type);
    }
    if (header.e_phentsize != sizeof(Elf64_Phdr)) {
        return Error::format("ELF program header size {} is not {}", header.e_phentsize, sizeof(Elf64_Phdr));
    }
    if (header.e_phnum == 0) {
        return Error{"ELF image has no program headers"};
    }
    if (header.e_phnum > kMaxProgramHeaders) {
        return Error::format("ELF image claims {} program headers (at most {} accepted)", header.e_phnum,
                             kMaxProgramHeaders);
    }
    if (!range_inside(header.e_phoff, uint64_t{header.e_phnum} * sizeof(Elf64_Phdr), file_size)) {
        return Error::format("ELF program headers ({} at {:#x}) extend past the end of the {}-byte file",
                             header.e_phnum, header.e_phoff, file_size);
    }
    return {};
}

Result<ElfSegment> check_load_segment(const Elf64_Phdr& program, size_t index, uint64_t file_size) {
    if (program.p_filesz > program.p_memsz) {
        return Error::format("ELF segment {}: p_filesz {:#x} is larger than p_memsz {:#x}", index, program.p_filesz,
                             program.p_memsz);
    }
    if (!range_inside(program.p_offset, program.p_filesz, file_size)) {
        return Error::format("ELF segment {}: file range {:#x}+{:#x} extends past the end of the {}-byte file",
                             index, program.p_offset, program.p_filesz, file_size);
    }
    if (!range_inside(program.p_paddr, program.p_memsz, kPhysicalAddressLimit)) {
        return Error::format("ELF segment {}: physical range {:#x}+{:#x} is beyond the x86-64 physical address space",
                             index, program.p_paddr, program.p_memsz);
    }
    uint64_t virtual_end = 0;
    if (__builtin_add_overflow(program.p_vaddr, program.p_memsz, &virtual_end)) {
        return Error::format("ELF segment {}: virtual range {:#x}+{:#x} overflows", index, program.p_vaddr,
                             program.p_memsz);
    }
    ElfSegment segment;
    segment.file_offset = program.p_offset;
    segment.file_size = program.p_filesz;
    segment.memory_size = program.p_memsz;
    segment.physical_address = GuestAddress(program.p_paddr);
    segment.virtual_address = program.p_vaddr;
    return segment;
}

// e_entry is a link address. Linux puts a physical one there, but older
// vmlinux files and other kernels use the high virtual link address: an entry
// inside some segment's physical range is taken as it is, otherwise it is
// translated with the offset of the segment whose virtual range holds it.
// (Physical first: vmlinux's per-CPU segment is linked at virtual 0.)
Result<GuestAddress> physical_entry(const ElfLayout& layout) {
    for (const ElfSegment& segment : layout.segments) {
        if (layout.entry >= segment.physical_address.value() &&
            layout.entry - segment.physical_address.value() < segment.memory_size) {
            return GuestAddress(layout.entry);
        }
    }
    for (const ElfSegment& segment : layout.segments) {
        if (layout.entry >= segment.virtual_address && layout.entry - segment.virtual_address < segment.memory_size) {
            return GuestAddress(segment.physical_address.value() + (layout.entry - segment.virtual_address));
        }
    }
    return Error::format("ELF entry point {:#x} lies outside every loadable segment", layout.entry);
}

bool inside_some_segment(const ElfLayout& layout, uint64_t physical) {
    for (const ElfSegment& segment : layout.segments) {
        if (physical >= segment.physical_address.value() &&
            physical - segment.physical_address.value() < segment.memory_size) {
            return true;
        }
    }
    return false;
}

}  // namespace

Result<KernelInfo> inspect_elf(std::span<const std::byte> image) {
    const uint64_t file_size = image.size();
    auto header = read_at<Elf64_Ehdr>(image, 0);
    if (!header) {
        return Error::format("ELF image: {}-byte file is too short for an ELF64 header", file_size);
    }
    if (std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0) {
        return Error{"ELF image: bad magic"};
    }
    TRY(check_file_header(*header, file_size));

    ElfLayout layout;
    layout.entry = header->e_entry;
    NoteFindings notes;
    for (size_t index = 0; index < header->e_phnum; ++index) {
        auto program = *read_at<Elf64_Phdr>(image, header->e_phoff + index * sizeof(Elf64_Phdr));
        if (program.p_type == PT_LOAD) {
            if (program.p_memsz == 0) {
                continue;
            }
            layout.segments.push_back(TRY(check_load_segment(program, index, file_size)));
        } else if (program.p_type == PT_NOTE) {
            auto segment = sub_span(image, program.p_offset, program.p_filesz);
            if (!segment) {
                return Error::format("ELF note segment {}: {:#x}+{:#x} extends past the end of the {}-byte file",
                                     index, program.p_offset, program.p_filesz, file_size);
            }
            TRY(scan_notes(*segment, program.p_align == 8 ? 8 : 4, notes));
        }
    }
    if (layout.segments.empty()) {
        return Error{"ELF image has no loadable (PT_LOAD) segment"};
    }
    layout.entry_physical = TRY(physical_entry(layout));

    KernelInfo info;
    info.format = KernelFormat::Elf64;
    info.is_linux = notes.linux_note;
    if (notes.pvh_entry) {
        if (*notes.pvh_entry >= kPvhEntryLimit) {
            return Error::format("ELF PVH entry {:#x} is not a 32-bit address", *notes.pvh_entry);
        }
        if (!inside_some_segment(layout, *notes.pvh_entry)) {
            return Error::format("ELF PVH entry {:#x} lies outside every loadable segment", *notes.pvh_entry);
        }
        info.pvh_entry = GuestAddress(*notes.pvh_entry);
    }
    info.elf = std::move(layout);
    return info;
}

}  // namespace skiff::boot
