// The ELF notes a kernel image carries (one layout in both ELF classes):
// Xen's XEN_ELFNOTE_PHYS32_ENTRY, the 32-bit PVH entry (Xen
// public/elfnote.h), and any note named "Linux".
#pragma once

#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace skiff::boot {

inline constexpr uint32_t kXenElfnotePhys32Entry = 18;

struct ElfNoteFindings {
    std::optional<uint64_t> pvh_entry;  // as the note says; not yet checked
    bool linux_note = false;
};

// Walks the notes of one PT_NOTE segment (the bytes it covers in the file)
// and adds what it finds to `findings`. `alignment` is the padding of name
// and descriptor: 8 when the segment's p_align says so, else 4. Errors: a
// note overrunning the segment, a PHYS32_ENTRY descriptor not 4 or 8 bytes.
[[nodiscard]] Result<void> scan_elf_notes(std::span<const std::byte> notes, uint64_t alignment,
                                          ElfNoteFindings& findings);

}  // namespace skiff::boot
