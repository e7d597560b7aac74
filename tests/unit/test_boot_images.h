// Synthetic kernel images for the boot/ unit tests: a bzImage with a
// setup header laid out as Linux boot.rst describes, and ELF64 executables
// with PT_LOAD segments and Xen / Linux notes. Every byte of each image
// belongs to a checked structure, so any truncation must be rejected.
#pragma once

#include "boot/boot_params.h"
#include "boot/kernel_image.h"
#include "vmm/guest_memory.h"

#include <elf.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace skiff::boot::testing {

using Image = std::vector<std::byte>;

template <typename T>
void put(Image& image, uint64_t offset, const T& value) {
    REQUIRE(offset + sizeof(T) <= image.size());
    std::memcpy(image.data() + offset, &value, sizeof(T));
}

template <typename T>
T get(const Image& image, uint64_t offset) {
    T value{};
    REQUIRE(offset + sizeof(T) <= image.size());
    std::memcpy(&value, image.data() + offset, sizeof(T));
    return value;
}

// A recognisable, position-dependent byte pattern.
inline std::byte pattern_byte(uint64_t index, uint8_t seed) {
    return std::byte(static_cast<uint8_t>((index * 7 + seed) ^ (index >> 8)));
}

struct BzImageSpec {
    uint8_t setup_sects = 4;
    uint32_t kernel_size = 0x3000;  // multiple of 16
    uint16_t version = 0x020f;
    uint8_t loadflags = linux_boot::kLoadedHigh;
    uint16_t xloadflags = linux_boot::kXlfKernel64;
    uint32_t cmdline_size = 0x7ff;
    uint32_t initrd_addr_max = 0x7fffffff;
    uint32_t kernel_alignment = 0x200000;
    uint8_t relocatable = 1;
    uint64_t pref_address = 0x1000000;
    uint32_t init_size = 0x800000;
    uint64_t header_end = 0x26c;  // what the jump at 0x200 says
};

inline uint64_t bzimage_setup_size(const BzImageSpec& spec) {
    return (uint64_t{spec.setup_sects == 0 ? uint8_t{4} : spec.setup_sects} + 1) * 512;
}

inline Image make_bzimage(const BzImageSpec& spec = {}) {
    const uint64_t setup_size = bzimage_setup_size(spec);
    Image image(setup_size + spec.kernel_size);
    for (uint64_t index = setup_size; index < image.size(); ++index) {
        image[index] = pattern_byte(index - setup_size, 0x5a);
    }
    linux_boot::SetupHeader header{};
    header.setup_sects = spec.setup_sects;
    header.syssize = spec.kernel_size / 16;
    header.boot_flag = linux_boot::kBootFlag;
    header.jump = static_cast<uint16_t>(0xeb | ((spec.header_end - 0x202) << 8));
    header.header = linux_boot::kHeaderMagic;
    header.version = spec.version;
    header.loadflags = spec.loadflags;
    header.code32_start = 0x100000;
    header.initrd_addr_max = spec.initrd_addr_max;
    header.kernel_alignment = spec.kernel_alignment;
    header.relocatable_kernel = spec.relocatable;
    header.xloadflags = spec.xloadflags;
    header.cmdline_size = spec.cmdline_size;
    header.pref_address = spec.pref_address;
    header.init_size = spec.init_size;
    put(image, linux_boot::kSetupHeaderOffset, header);
    return image;
}

struct ElfSegmentSpec {
    uint64_t physical = 0;
    uint64_t virtual_address = 0;
    uint64_t file_size = 0;
    uint64_t memory_size = 0;
};

struct ElfSpec {
    uint64_t entry = 0x100000;
    std::vector<ElfSegmentSpec> segments{{0x100000, 0x100000, 0x2000, 0x3000}};
    std::optional<uint64_t> pvh_entry;
    uint32_t pvh_descriptor_size = 8;
    bool linux_note = false;
};

struct ElfNote {
    std::string name;
    uint32_t type;
    std::vector<std::byte> descriptor;
};

inline void append_note(Image& notes, const ElfNote& note) {
    auto align4 = [&notes] {
        while (notes.size() % 4 != 0) {
            notes.push_back(std::byte{0});
        }
    };
    Elf64_Nhdr header{static_cast<Elf64_Word>(note.name.size() + 1), static_cast<Elf64_Word>(note.descriptor.size()),
                      note.type};
    const auto* raw = reinterpret_cast<const std::byte*>(&header);
    notes.insert(notes.end(), raw, raw + sizeof(header));
    for (char c : note.name) {
        notes.push_back(std::byte(c));
    }
    notes.push_back(std::byte{0});
    align4();
    notes.insert(notes.end(), note.descriptor.begin(), note.descriptor.end());
    align4();
}

// What the two ELF classes' test images differ in.
struct Elf64Class {
    using Ehdr = Elf64_Ehdr;
    using Phdr = Elf64_Phdr;
    static constexpr unsigned char kClass = ELFCLASS64;
    static constexpr uint16_t kMachine = EM_X86_64;
};
struct Elf32Class {
    using Ehdr = Elf32_Ehdr;
    using Phdr = Elf32_Phdr;
    static constexpr unsigned char kClass = ELFCLASS32;
    static constexpr uint16_t kMachine = EM_386;
};

// A GNU note, then the PVH entry note (a descriptor of `descriptor_size`
// bytes) when there is an entry.
inline Image notes_with_pvh(std::optional<uint64_t> pvh_entry, uint32_t descriptor_size) {
    Image notes;
    append_note(notes, ElfNote{"GNU", 3, Image(20, std::byte{0x11})});
    if (pvh_entry) {
        Image descriptor(descriptor_size);
        std::memcpy(descriptor.data(), &*pvh_entry, std::min<size_t>(8, descriptor.size()));
        append_note(notes, ElfNote{"Xen", 18, descriptor});
    }
    return notes;
}

// Layout: ELF header, program headers (the PT_NOTE first), notes, segment
// contents. Segment file offsets keep file and memory addresses congruent
// modulo 16 only where it does not matter (no alignment checks).
template <typename Class>
Image make_elf_of_class(uint64_t entry, const std::vector<ElfSegmentSpec>& segments, const Image& notes) {
    using Ehdr = typename Class::Ehdr;
    using Phdr = typename Class::Phdr;
    // Fields of the 32-bit class are narrower; the tests' values fit.
    auto narrow = [](auto& field, uint64_t value) {
        field = static_cast<std::remove_reference_t<decltype(field)>>(value);
    };
    const uint64_t program_count = segments.size() + 1;
    const uint64_t notes_offset = sizeof(Ehdr) + program_count * sizeof(Phdr);
    uint64_t offset = notes_offset + notes.size();
    Image image(offset);
    Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = Class::kClass;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = Class::kMachine;
    header.e_version = EV_CURRENT;
    narrow(header.e_entry, entry);
    narrow(header.e_phoff, sizeof(Ehdr));
    header.e_ehsize = sizeof(Ehdr);
    header.e_phentsize = sizeof(Phdr);
    narrow(header.e_phnum, program_count);
    put(image, 0, header);

    Phdr note_header{};
    note_header.p_type = PT_NOTE;
    narrow(note_header.p_offset, notes_offset);
    narrow(note_header.p_filesz, notes.size());
    narrow(note_header.p_memsz, notes.size());
    note_header.p_align = 4;
    put(image, sizeof(Ehdr), note_header);
    std::memcpy(image.data() + notes_offset, notes.data(), notes.size());

    for (size_t index = 0; index < segments.size(); ++index) {
        const ElfSegmentSpec& segment = segments[index];
        Phdr program{};
        program.p_type = PT_LOAD;
        program.p_flags = PF_R | PF_X;
        narrow(program.p_offset, offset);
        narrow(program.p_vaddr, segment.virtual_address);
        narrow(program.p_paddr, segment.physical);
        narrow(program.p_filesz, segment.file_size);
        narrow(program.p_memsz, segment.memory_size);
        program.p_align = 0x1000;
        put(image, sizeof(Ehdr) + (index + 1) * sizeof(Phdr), program);
        for (uint64_t byte = 0; byte < segment.file_size; ++byte) {
            image.push_back(pattern_byte(byte, static_cast<uint8_t>(0x30 + index)));
        }
        offset += segment.file_size;
    }
    return image;
}

inline Image make_elf(const ElfSpec& spec = {}) {
    Image notes = notes_with_pvh(spec.pvh_entry, spec.pvh_descriptor_size);
    if (spec.linux_note) {
        append_note(notes, ElfNote{"Linux", 0x100, Image(4, std::byte{0x22})});
    }
    return make_elf_of_class<Elf64Class>(spec.entry, spec.segments, notes);
}

// Offset of program header `index` (0 is the PT_NOTE one in make_elf images).
inline uint64_t program_header_offset(size_t index) { return sizeof(Elf64_Ehdr) + index * sizeof(Elf64_Phdr); }

inline GuestMemory make_memory(uint64_t size, std::optional<uint64_t> high_size = std::nullopt) {
    std::vector<GuestMemory::RangeSpec> ranges{{GuestAddress(0), size}};
    if (high_size) {
        ranges.push_back({GuestAddress(0x100000000), *high_size});
    }
    auto memory = GuestMemory::create(ranges);
    REQUIRE(memory.ok());
    return std::move(memory).value();
}

// Debian's newest kernel image in /boot when the machine has one (the L1
// VM's set-up installs linux-image-amd64; the tests that use it warn and
// stop without it).
inline std::optional<std::string> debian_kernel_path() {
    std::vector<std::string> kernels;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/boot", error)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with("vmlinuz-") && name.ends_with("-amd64")) {
            kernels.push_back(entry.path().string());
        }
    }
    if (kernels.empty()) {
        return std::nullopt;
    }
    return *std::max_element(kernels.begin(), kernels.end());
}

inline std::optional<Image> read_debian_kernel() {
    auto path = debian_kernel_path();
    if (!path) {
        return std::nullopt;
    }
    std::ifstream file(*path, std::ios::binary);
    if (!file) {
        return std::nullopt;
    }
    std::vector<char> raw((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    Image image(raw.size());
    std::memcpy(image.data(), raw.data(), raw.size());
    return image;
}

inline bool one_line(const std::string& message) {
    return !message.empty() && message.find('\n') == std::string::npos;
}

// inspect_kernel's error for an image it must refuse (one line).
inline std::string inspect_error(const Image& image) {
    auto result = inspect_kernel(image);
    REQUIRE_FALSE(result.ok());
    CHECK(one_line(result.error().message));
    return result.error().message;
}

}  // namespace skiff::boot::testing
