// ELF32 images: booted through their PVH note only, with the segment checks
// of ELF64 (boot/elf_headers.h reads both classes into one form).
#include "boot/kernel_image.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "test_boot_images.h"

#include <catch2/catch.hpp>

#include <random>

using namespace skiff;
using namespace skiff::boot;
using namespace skiff::boot::testing;

namespace {

constexpr char kNoNoteMessage[] =
    "ELF32 image without a PVH note (XEN_ELFNOTE_PHYS32_ENTRY): skiff boots 32-bit ELF images only through PVH";

// Offset of ELF32 program header `index` (0 is the PT_NOTE).
constexpr uint64_t elf32_program_header(size_t index) { return sizeof(Elf32_Ehdr) + index * sizeof(Elf32_Phdr); }

struct Elf32Spec {
    uint32_t entry = 0x100000;
    // Linked high, loaded at 1 MiB: the loader must follow p_paddr.
    std::vector<ElfSegmentSpec> segments{{0x100000, 0xc0100000, 0x200, 0x1000}, {0x200000, 0xc0200000, 0x80, 0x80}};
    std::optional<uint64_t> pvh_entry = 0x100040;
    uint32_t pvh_descriptor_size = 4;
};

// As make_elf's images, of the 32-bit class.
Image make_elf32(const Elf32Spec& spec = {}) {
    return make_elf_of_class<Elf32Class>(spec.entry, spec.segments,
                                         notes_with_pvh(spec.pvh_entry, spec.pvh_descriptor_size));
}

std::string load_error(const Image& image, BootProtocol protocol, uint64_t memory_size = 16 << 20) {
    auto kernel = inspect_kernel(image);
    REQUIRE(kernel.ok());
    GuestMemory memory = make_memory(memory_size);
    BootOptions options;
    options.protocol = protocol;
    auto setup = load_kernel(memory, image, *kernel, options);
    REQUIRE_FALSE(setup.ok());
    CHECK(one_line(setup.error().message));
    return setup.error().message;
}

}  // namespace

TEST_CASE("inspect_kernel accepts an ELF32 with a PVH note", "[boot][elf32]") {
    auto info = inspect_kernel(make_elf32());
    REQUIRE(info.ok());
    CHECK(info->format == KernelFormat::Elf32);
    CHECK_FALSE(info->is_linux);
    REQUIRE(info->pvh_entry);
    CHECK(info->pvh_entry->value() == 0x100040);
    REQUIRE(info->elf);
    CHECK_FALSE(info->elf->entry_physical);  // no 64-bit entry
    REQUIRE(info->elf->segments.size() == 2);
    CHECK(info->elf->segments[0].physical_address.value() == 0x100000);
    CHECK(info->elf->segments[0].virtual_address == 0xc0100000);
    CHECK(info->elf->segments[0].memory_size == 0x1000);
    CHECK(describe(*info) == "ELF32, PVH entry 0x100040");
}

TEST_CASE("inspect_kernel reads an 8-byte PVH descriptor in an ELF32", "[boot][elf32]") {
    Elf32Spec spec;
    spec.pvh_descriptor_size = 8;
    auto info = inspect_kernel(make_elf32(spec));
    REQUIRE(info.ok());
    CHECK(info->pvh_entry->value() == 0x100040);
}

TEST_CASE("load_kernel loads an ELF32 at p_paddr and enters through PVH", "[boot][elf32]") {
    const Image image = make_elf32();
    auto kernel = inspect_kernel(image);
    REQUIRE(kernel.ok());
    GuestMemory memory = make_memory(16 << 20);
    // Stale bytes where the bss goes: the loader must zero them.
    REQUIRE(memory.fill(GuestAddress(0x100000), 0x2000, std::byte{0xee}).ok());
    for (BootProtocol protocol : {BootProtocol::Auto, BootProtocol::Pvh}) {
        BootOptions options;
        options.protocol = protocol;
        options.cmdline = "elf32";
        auto setup = load_kernel(memory, image, *kernel, options);
        REQUIRE(setup.ok());
        CHECK(setup->mode == EntryMode::Pvh32);
        CHECK(setup->entry.value() == 0x100040);
        CHECK(setup->boot_info == layout::kPvhStartInfo);
    }
    const ElfSegment& first = kernel->elf->segments[0];
    Image loaded(first.memory_size);
    REQUIRE(memory.read(first.physical_address, loaded).ok());
    const auto file_bytes = std::span(image).subspan(first.file_offset, first.file_size);
    CHECK(std::equal(file_bytes.begin(), file_bytes.end(), loaded.begin()));
    CHECK(std::all_of(loaded.begin() + static_cast<std::ptrdiff_t>(first.file_size), loaded.end(),
                      [](std::byte value) { return value == std::byte{0}; }));
    Image second(0x80);
    REQUIRE(memory.read(GuestAddress(0x200000), second).ok());
    CHECK(second[0] == pattern_byte(0, 0x31));
}

TEST_CASE("an ELF32 without a PVH note is refused", "[boot][elf32]") {
    Elf32Spec spec;
    spec.pvh_entry.reset();
    CHECK(inspect_error(make_elf32(spec)) == kNoNoteMessage);
}

TEST_CASE("load_kernel refuses the Linux 64-bit entry for an ELF32", "[boot][elf32]") {
    CHECK_THAT(load_error(make_elf32(), BootProtocol::Linux64), Catch::Contains("ELF32 image boots only through PVH"));
}

TEST_CASE("load_kernel refuses ELF32 segments over boot structures or outside memory", "[boot][elf32]") {
    Elf32Spec spec;
    SECTION("below 1 MiB") {
        spec.segments = {{0x8000, 0x8000, 0x10, 0x10}};
        spec.pvh_entry = 0x8000;
        CHECK_THAT(load_error(make_elf32(spec), BootProtocol::Auto), Catch::Contains("boot structures"));
    }
    SECTION("beyond guest RAM") {
        spec.segments = {{0xfff000, 0xfff000, 0x10, 0x2000}};
        spec.pvh_entry = 0xfff000;
        CHECK_THAT(load_error(make_elf32(spec), BootProtocol::Auto), Catch::Contains("does not fit"));
    }
}

TEST_CASE("inspect_kernel rejects malformed ELF32 images with one clear line", "[boot][elf32]") {
    Image image = make_elf32();
    const uint64_t load = elf32_program_header(1);
    SECTION("header cut short") {
        image.resize(sizeof(Elf32_Ehdr) - 1);
        CHECK_THAT(inspect_error(image), Catch::Contains("too short for an ELF32 header"));
    }
    SECTION("x86-64 machine") {
        put<Elf32_Half>(image, offsetof(Elf32_Ehdr, e_machine), EM_X86_64);
        CHECK_THAT(inspect_error(image), Catch::Contains("ELF32 machine 62 is not i386"));
    }
    SECTION("ELF64 program header size") {
        put<Elf32_Half>(image, offsetof(Elf32_Ehdr, e_phentsize), sizeof(Elf64_Phdr));
        CHECK_THAT(inspect_error(image), Catch::Contains("ELF32 program header size 56 is not 32"));
    }
    SECTION("program headers beyond the file") {
        put<Elf32_Off>(image, offsetof(Elf32_Ehdr, e_phoff), static_cast<Elf32_Off>(image.size() - 8));
        CHECK_THAT(inspect_error(image), Catch::Contains("program headers"));
    }
    SECTION("program header offset at the top of the 32-bit range") {
        put<Elf32_Off>(image, offsetof(Elf32_Ehdr, e_phoff), 0xfffffff0);
        CHECK_THAT(inspect_error(image), Catch::Contains("program headers"));
    }
    SECTION("segment data beyond the file") {
        put<Elf32_Word>(image, load + offsetof(Elf32_Phdr, p_filesz), 0x800);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("segment offset + filesz that overflows 32 bits") {
        put<Elf32_Off>(image, load + offsetof(Elf32_Phdr, p_offset), 0xffffff00);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("p_paddr + p_memsz beyond 4 GiB") {
        put<Elf32_Addr>(image, load + offsetof(Elf32_Phdr, p_paddr), 0xfffff800);
        CHECK_THAT(inspect_error(image), Catch::Contains("beyond the 32-bit physical address space"));
    }
    SECTION("p_vaddr + p_memsz beyond 4 GiB") {
        put<Elf32_Addr>(image, load + offsetof(Elf32_Phdr, p_vaddr), 0xfffff800);
        CHECK_THAT(inspect_error(image), Catch::Contains("virtual range 0xfffff800+0x1000 overflows"));
    }
    SECTION("p_memsz smaller than p_filesz") {
        put<Elf32_Word>(image, load + offsetof(Elf32_Phdr, p_memsz), 0x100);
        CHECK_THAT(inspect_error(image), Catch::Contains("p_filesz 0x200 is larger than p_memsz 0x100"));
    }
    SECTION("note segment beyond the file") {
        put<Elf32_Word>(image, elf32_program_header(0) + offsetof(Elf32_Phdr, p_filesz),
                        static_cast<Elf32_Word>(image.size()));
        CHECK_THAT(inspect_error(image), Catch::Contains("note segment"));
    }
    SECTION("note that overruns its segment") {
        const uint64_t notes = get<Elf32_Off>(image, elf32_program_header(0) + offsetof(Elf32_Phdr, p_offset));
        put<Elf32_Word>(image, notes + offsetof(Elf32_Nhdr, n_descsz), 0xfffffff0);
        CHECK_THAT(inspect_error(image), Catch::Contains("overruns"));
    }
    SECTION("no loadable segment") {
        put<Elf32_Word>(image, load + offsetof(Elf32_Phdr, p_type), PT_NULL);
        put<Elf32_Word>(image, elf32_program_header(2) + offsetof(Elf32_Phdr, p_type), PT_NULL);
        CHECK_THAT(inspect_error(image), Catch::Contains("no loadable"));
    }
}

TEST_CASE("inspect_kernel rejects bad PVH notes in an ELF32", "[boot][elf32]") {
    Elf32Spec spec;
    SECTION("descriptor of an odd size") {
        spec.pvh_descriptor_size = 2;
        CHECK_THAT(inspect_error(make_elf32(spec)), Catch::Contains("2-byte descriptor"));
    }
    SECTION("entry outside the segments") {
        spec.pvh_entry = 0x900000;
        CHECK_THAT(inspect_error(make_elf32(spec)), Catch::Contains("PVH entry 0x900000 lies outside"));
    }
    SECTION("8-byte entry above 4 GiB") {
        spec.pvh_descriptor_size = 8;
        spec.pvh_entry = 0x100100000;
        CHECK_THAT(inspect_error(make_elf32(spec)), Catch::Contains("not a 32-bit address"));
    }
}

TEST_CASE("inspect_kernel rejects every truncation of an ELF32 image", "[boot][elf32]") {
    const Image image = make_elf32();
    REQUIRE(inspect_kernel(image).ok());
    for (size_t size = 0; size < image.size(); ++size) {
        Image truncated(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(size));
        INFO("size " << size);
        auto result = inspect_kernel(truncated);
        REQUIRE_FALSE(result.ok());
        CHECK(one_line(result.error().message));
    }
}

TEST_CASE("inspect_kernel and load_kernel survive random corruption of an ELF32", "[boot][elf32]") {
    const Image original = make_elf32();
    std::mt19937 random(3232);
    GuestMemory memory = make_memory(32 * 1024 * 1024);
    size_t accepted = 0;
    for (int round = 0; round < 3000; ++round) {
        Image image = original;
        const int flips = 1 + static_cast<int>(random() % 4);
        for (int flip = 0; flip < flips; ++flip) {
            image[random() % original.size()] = std::byte(static_cast<uint8_t>(random()));
        }
        auto result = inspect_kernel(image);
        if (!result.ok()) {
            CHECK(one_line(result.error().message));
            continue;
        }
        ++accepted;
        for (BootProtocol protocol : {BootProtocol::Auto, BootProtocol::Pvh, BootProtocol::Linux64}) {
            BootOptions options;
            options.protocol = protocol;
            auto setup = load_kernel(memory, image, *result, options);
            if (!setup.ok()) {
                CHECK(one_line(setup.error().message));
            }
        }
    }
    CHECK(accepted > 0);
}
