// ELF headers of either class; see elf_headers.h. Elf32_* and Elf64_* name
// their fields alike, so one template reads both.
#include "boot/elf_headers.h"

#include "boot/image_bytes.h"

#include <elf.h>

#include <array>
#include <cstring>

namespace skiff::boot {

namespace {

// Far more than any kernel has; bounds the work a hostile header can cause.
constexpr uint64_t kMaxProgramHeaders = 1024;

template <typename Header, typename Program>
Result<void> check_file_header(const Header& header, ElfClass elf_class, uint64_t file_size) {
    constexpr uint64_t program_header_size = sizeof(Program);
    if (header.e_ident[EI_DATA] != ELFDATA2LSB) {
        return Error{"ELF image is not little-endian"};
    }
    if (header.e_ident[EI_VERSION] != EV_CURRENT || header.e_version != EV_CURRENT) {
        return Error::format("ELF version {} is not 1", header.e_version);
    }
    if (elf_class == ElfClass::Elf64 && header.e_machine != EM_X86_64) {
        return Error::format("ELF machine {} is not x86-64 ({})", header.e_machine, EM_X86_64);
    }
    if (elf_class == ElfClass::Elf32 && header.e_machine != EM_386) {
        return Error::format("ELF32 machine {} is not i386 ({})", header.e_machine, EM_386);
    }
    if (header.e_type != ET_EXEC) {
        return Error::format("ELF type {} is not an executable (ET_EXEC)", header.e_type);
    }
    if (header.e_phentsize != program_header_size) {
        return Error::format("{} program header size {} is not {}", class_name(elf_class), header.e_phentsize,
                             program_header_size);
    }
    if (header.e_phnum == 0) {
        return Error{"ELF image has no program headers"};
    }
    if (header.e_phnum > kMaxProgramHeaders) {
        return Error::format("ELF image claims {} program headers (at most {} accepted)", header.e_phnum,
                             kMaxProgramHeaders);
    }
    if (!range_inside(header.e_phoff, uint64_t{header.e_phnum} * program_header_size, file_size)) {
        return Error::format("ELF program headers ({} at {:#x}) extend past the end of the {}-byte file",
                             header.e_phnum, header.e_phoff, file_size);
    }
    return {};
}

template <typename Header, typename Program>
Result<ElfFileHeader> read_class(std::span<const std::byte> image, ElfClass elf_class) {
    auto header = read_at<Header>(image, 0);
    if (!header) {
        return Error::format("ELF image: {}-byte file is too short for an {} header", image.size(),
                             class_name(elf_class));
    }
    TRY((check_file_header<Header, Program>(*header, elf_class, image.size())));
    return ElfFileHeader{elf_class, header->e_entry, header->e_phoff, header->e_phnum};
}

// A zeroed (PT_NULL, ignored) header if the table is not where the file
// header said: the precondition broken is no reason to read out of bounds.
template <typename Program>
ElfProgramHeader read_widened(std::span<const std::byte> image, uint64_t offset) {
    const Program program = read_at<Program>(image, offset).value_or(Program{});
    return ElfProgramHeader{program.p_type,  program.p_offset, program.p_vaddr, program.p_paddr,
                            program.p_filesz, program.p_memsz, program.p_align};
}

}  // namespace

std::string_view class_name(ElfClass elf_class) { return elf_class == ElfClass::Elf32 ? "ELF32" : "ELF64"; }

Result<ElfFileHeader> read_elf_file_header(std::span<const std::byte> image) {
    auto identification = read_at<std::array<unsigned char, EI_NIDENT>>(image, 0);
    if (!identification) {
        return Error::format("ELF image: {}-byte file is too short for an ELF identification", image.size());
    }
    if (std::memcmp(identification->data(), ELFMAG, SELFMAG) != 0) {
        return Error{"ELF image: bad magic"};
    }
    switch ((*identification)[EI_CLASS]) {
        case ELFCLASS32: return read_class<Elf32_Ehdr, Elf32_Phdr>(image, ElfClass::Elf32);
        case ELFCLASS64: return read_class<Elf64_Ehdr, Elf64_Phdr>(image, ElfClass::Elf64);
        default: break;
    }
    return Error::format("ELF class {} is neither ELFCLASS32 nor ELFCLASS64", (*identification)[EI_CLASS]);
}

ElfProgramHeader read_program_header(std::span<const std::byte> image, const ElfFileHeader& header,
                                     uint64_t index) {
    if (header.elf_class == ElfClass::Elf32) {
        return read_widened<Elf32_Phdr>(image, header.program_header_offset + index * sizeof(Elf32_Phdr));
    }
    return read_widened<Elf64_Phdr>(image, header.program_header_offset + index * sizeof(Elf64_Phdr));
}

}  // namespace skiff::boot
