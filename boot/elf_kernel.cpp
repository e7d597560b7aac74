// ELF kernel checks, the same for both classes (elf_headers.h reads either
// into one form): PT_LOAD segments inside the file and free of overflow,
// the notes (elf_notes.h), and the entries. An ELF64 may enter at e_entry
// (the Linux 64-bit entry), translated from its link (virtual) address to
// where the segment loads, or through PVH. An ELF32 enters only through
// PVH: the protocol starts in 32-bit protected mode, which is all a 32-bit
// image can count on; without the note skiff has no entry it could use.
#include "boot/elf_headers.h"
#include "boot/elf_notes.h"
#include "boot/image_bytes.h"
#include "boot/kernel_image.h"

#include <elf.h>

namespace skiff::boot {

namespace {

// An ELF32's addresses are 32-bit, and PVH runs with paging off: its
// segments end by 4 GiB. x86-64 physical addresses have at most 52 bits.
constexpr uint64_t kFourGiB = uint64_t{1} << 32;
constexpr uint64_t kPhysicalAddressLimit = uint64_t{1} << 52;
// PVH enters in 32-bit protected mode.
constexpr uint64_t kPvhEntryLimit = kFourGiB;

uint64_t physical_limit(ElfClass elf_class) {
    return elf_class == ElfClass::Elf32 ? kFourGiB : kPhysicalAddressLimit;
}

std::string_view physical_space_name(ElfClass elf_class) {
    return elf_class == ElfClass::Elf32 ? "32-bit" : "x86-64";
}

bool virtual_range_overflows(ElfClass elf_class, uint64_t start, uint64_t size) {
    if (elf_class == ElfClass::Elf32) {
        return !range_inside(start, size, kFourGiB);
    }
    uint64_t end = 0;
    return __builtin_add_overflow(start, size, &end);
}

Result<ElfSegment> check_load_segment(const ElfProgramHeader& program, ElfClass elf_class, uint64_t index,
                                      uint64_t file_size) {
    if (program.file_size > program.memory_size) {
        return Error::format("ELF segment {}: p_filesz {:#x} is larger than p_memsz {:#x}", index, program.file_size,
                             program.memory_size);
    }
    if (!range_inside(program.file_offset, program.file_size, file_size)) {
        return Error::format("ELF segment {}: file range {:#x}+{:#x} extends past the end of the {}-byte file",
                             index, program.file_offset, program.file_size, file_size);
    }
    if (!range_inside(program.physical_address, program.memory_size, physical_limit(elf_class))) {
        return Error::format("ELF segment {}: physical range {:#x}+{:#x} is beyond the {} physical address space",
                             index, program.physical_address, program.memory_size, physical_space_name(elf_class));
    }
    if (virtual_range_overflows(elf_class, program.virtual_address, program.memory_size)) {
        return Error::format("ELF segment {}: virtual range {:#x}+{:#x} overflows", index, program.virtual_address,
                             program.memory_size);
    }
    ElfSegment segment;
    segment.file_offset = program.file_offset;
    segment.file_size = program.file_size;
    segment.memory_size = program.memory_size;
    segment.physical_address = GuestAddress(program.physical_address);
    segment.virtual_address = program.virtual_address;
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

Result<GuestAddress> check_pvh_entry(const ElfLayout& layout, uint64_t entry) {
    if (entry >= kPvhEntryLimit) {
        return Error::format("ELF PVH entry {:#x} is not a 32-bit address", entry);
    }
    if (!inside_some_segment(layout, entry)) {
        return Error::format("ELF PVH entry {:#x} lies outside every loadable segment", entry);
    }
    return GuestAddress(entry);
}

}  // namespace

Result<KernelInfo> inspect_elf(std::span<const std::byte> image) {
    const uint64_t file_size = image.size();
    const ElfFileHeader header = TRY(read_elf_file_header(image));

    ElfLayout layout;
    layout.entry = header.entry;
    ElfNoteFindings notes;
    for (uint64_t index = 0; index < header.program_header_count; ++index) {
        const ElfProgramHeader program = read_program_header(image, header, index);
        if (program.type == PT_LOAD) {
            if (program.memory_size == 0) {
                continue;
            }
            layout.segments.push_back(TRY(check_load_segment(program, header.elf_class, index, file_size)));
        } else if (program.type == PT_NOTE) {
            auto segment = sub_span(image, program.file_offset, program.file_size);
            if (!segment) {
                return Error::format("ELF note segment {}: {:#x}+{:#x} extends past the end of the {}-byte file",
                                     index, program.file_offset, program.file_size, file_size);
            }
            TRY(scan_elf_notes(*segment, program.alignment == 8 ? 8 : 4, notes));
        }
    }
    if (layout.segments.empty()) {
        return Error{"ELF image has no loadable (PT_LOAD) segment"};
    }

    KernelInfo info;
    if (header.elf_class == ElfClass::Elf32) {
        if (!notes.pvh_entry) {
            return Error{"ELF32 image without a PVH note (XEN_ELFNOTE_PHYS32_ENTRY): skiff boots 32-bit ELF images "
                         "only through PVH"};
        }
        info.format = KernelFormat::Elf32;
    } else {
        info.format = KernelFormat::Elf64;
        layout.entry_physical = TRY(physical_entry(layout));
    }
    info.is_linux = notes.linux_note;
    if (notes.pvh_entry) {
        info.pvh_entry = TRY(check_pvh_entry(layout, *notes.pvh_entry));
    }
    info.elf = std::move(layout);
    return info;
}

}  // namespace skiff::boot
