// ELF file and program headers of either class (System V gABI), read into
// one class-neutral form so the kernel checks and the loader are written
// once: ELF32 fields widen to 64 bits. Reading never forms a pointer into
// the image.
#pragma once

#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace skiff::boot {

enum class ElfClass { Elf32, Elf64 };

// "ELF32" or "ELF64".
[[nodiscard]] std::string_view class_name(ElfClass elf_class);

struct ElfFileHeader {
    ElfClass elf_class = ElfClass::Elf64;
    uint64_t entry = 0;                  // e_entry
    uint64_t program_header_offset = 0;  // e_phoff
    uint64_t program_header_count = 0;   // e_phnum
};

struct ElfProgramHeader {
    uint32_t type = 0;  // p_type: PT_LOAD, PT_NOTE, ...
    uint64_t file_offset = 0;
    uint64_t virtual_address = 0;
    uint64_t physical_address = 0;
    uint64_t file_size = 0;
    uint64_t memory_size = 0;
    uint64_t alignment = 0;
};

// Reads and checks the file header: magic, class (32 or 64), little-endian,
// version 1, the class's x86 machine (EM_386 for ELF32, EM_X86_64 for
// ELF64), ET_EXEC, the class's program header size, and a program header
// table of 1 to 1024 entries inside the file. Errors are one line.
[[nodiscard]] Result<ElfFileHeader> read_elf_file_header(std::span<const std::byte> image);

// Program header `index` (< program_header_count) of the image whose header
// read_elf_file_header accepted: the table is known to lie in the file.
[[nodiscard]] ElfProgramHeader read_program_header(std::span<const std::byte> image, const ElfFileHeader& header,
                                                   uint64_t index);

}  // namespace skiff::boot
