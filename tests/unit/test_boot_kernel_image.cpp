#include "boot/kernel_image.h"
#include "boot/loader.h"
#include "test_boot_images.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <random>

using namespace skiff;
using namespace skiff::boot;
using namespace skiff::boot::testing;

namespace {

constexpr uint64_t kSetupOffset = linux_boot::kSetupHeaderOffset;
#define SETUP_FIELD(field) (kSetupOffset + offsetof(linux_boot::SetupHeader, field))

}  // namespace

TEST_CASE("inspect_kernel accepts a synthetic bzImage", "[boot]") {
    BzImageSpec spec;
    Image image = make_bzimage(spec);
    auto info = inspect_kernel(image);
    REQUIRE(info.ok());
    CHECK(info->format == KernelFormat::BzImage);
    CHECK(info->is_linux);
    CHECK_FALSE(info->pvh_entry);
    CHECK_FALSE(info->elf);
    REQUIRE(info->bzimage);
    CHECK(info->bzimage->kernel_offset == 5 * 512);
    CHECK(info->bzimage->kernel_size == spec.kernel_size);
    CHECK(info->bzimage->setup_header_size == 0x26c - 0x1f1);
    CHECK(info->bzimage->header.version == 0x020f);
    CHECK(info->bzimage->header.cmdline_size == 0x7ff);
    CHECK(describe(*info) == "bzImage, boot protocol 2.15");
}

TEST_CASE("inspect_kernel reads setup_sects 0 as 4 and a short 2.12 header", "[boot]") {
    BzImageSpec spec;
    spec.setup_sects = 0;
    spec.version = 0x020c;
    spec.header_end = 0x264;  // through init_size: what protocol 2.12 needs
    Image image = make_bzimage(spec);
    // Bytes past the declared header end must not be taken as header fields.
    put<uint32_t>(image, SETUP_FIELD(handover_offset), 0xdeadbeef);
    auto info = inspect_kernel(image);
    REQUIRE(info.ok());
    CHECK(info->bzimage->kernel_offset == 5 * 512);
    CHECK(info->bzimage->setup_header_size == 0x264 - 0x1f1);
    CHECK(info->bzimage->header.handover_offset == 0);
    CHECK(info->bzimage->header.init_size == spec.init_size);
}

TEST_CASE("inspect_kernel rejects malformed bzImages with one clear line", "[boot]") {
    BzImageSpec spec;
    SECTION("boot protocol older than 2.12") {
        spec.version = 0x020a;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("older than 2.12"));
    }
    SECTION("no 64-bit entry") {
        spec.xloadflags = 0;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("XLF_KERNEL_64"));
    }
    SECTION("zImage") {
        spec.loadflags = 0;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("LOADED_HIGH"));
    }
    SECTION("syssize beyond the file") {
        Image image = make_bzimage(spec);
        put<uint32_t>(image, SETUP_FIELD(syssize), spec.kernel_size / 16 + 1);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("absurd syssize") {
        Image image = make_bzimage(spec);
        put<uint32_t>(image, SETUP_FIELD(syssize), 0xffffffff);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("syssize 0") {
        Image image = make_bzimage(spec);
        put<uint32_t>(image, SETUP_FIELD(syssize), 0);
        CHECK_THAT(inspect_error(image), Catch::Contains("syssize is 0"));
    }
    SECTION("setup_sects beyond the file") {
        Image image = make_bzimage(spec);
        put<uint8_t>(image, SETUP_FIELD(setup_sects), 255);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("header shorter than protocol 2.12 needs") {
        spec.header_end = 0x240;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("too short"));
    }
    SECTION("bad boot_flag") {
        Image image = make_bzimage(spec);
        put<uint16_t>(image, SETUP_FIELD(boot_flag), 0x1234);
        CHECK_THAT(inspect_error(image), Catch::Contains("boot_flag"));
    }
    SECTION("kernel_alignment not a power of two") {
        spec.kernel_alignment = 0x300000;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("power of two"));
    }
    SECTION("init_size 0") {
        spec.init_size = 0;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("init_size"));
    }
    SECTION("footprint beyond 4 GiB") {
        spec.pref_address = 0xfff00000;
        CHECK_THAT(inspect_error(make_bzimage(spec)), Catch::Contains("beyond 4 GiB"));
    }
    SECTION("bad magic") {
        Image image = make_bzimage(spec);
        put<uint32_t>(image, SETUP_FIELD(header), 0x53726449);
        CHECK_THAT(inspect_error(image), Catch::Contains("neither ELF magic nor"));
    }
}

TEST_CASE("inspect_kernel rejects every truncation of a bzImage", "[boot]") {
    Image image = make_bzimage();
    for (size_t size = 0; size < image.size(); ++size) {
        Image truncated(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(size));
        auto result = inspect_kernel(truncated);
        INFO("size " << size);
        REQUIRE_FALSE(result.ok());
        CHECK(one_line(result.error().message));
    }
}

TEST_CASE("inspect_kernel accepts an ELF vmlinux linked high with PVH and Linux notes", "[boot]") {
    ElfSpec spec;
    spec.segments = {{0x1000000, 0xffffffff81000000, 0x4000, 0x6000}, {0x1800000, 0xffffffff81800000, 0x1000, 0x1000}};
    spec.entry = 0xffffffff81000040;
    spec.pvh_entry = 0x1000100;
    spec.linux_note = true;
    auto info = inspect_kernel(make_elf(spec));
    REQUIRE(info.ok());
    CHECK(info->format == KernelFormat::Elf64);
    CHECK(info->is_linux);
    REQUIRE(info->pvh_entry);
    CHECK(info->pvh_entry->value() == 0x1000100);
    REQUIRE(info->elf);
    CHECK(info->elf->entry == 0xffffffff81000040);
    CHECK(info->elf->entry_physical->value() == 0x1000040);
    REQUIRE(info->elf->segments.size() == 2);
    CHECK(info->elf->segments[1].physical_address.value() == 0x1800000);
    CHECK(info->elf->segments[0].memory_size == 0x6000);
    CHECK(describe(*info) == "ELF64, 64-bit entry 0x1000040, PVH entry 0x1000100, Linux");
}

TEST_CASE("inspect_kernel reads a 4-byte PVH note and identity-linked entries", "[boot]") {
    ElfSpec spec;
    spec.entry = 0x100010;
    spec.pvh_entry = 0x100020;
    spec.pvh_descriptor_size = 4;
    auto info = inspect_kernel(make_elf(spec));
    REQUIRE(info.ok());
    CHECK_FALSE(info->is_linux);
    CHECK(info->pvh_entry->value() == 0x100020);
    CHECK(info->elf->entry_physical->value() == 0x100010);
}

TEST_CASE("inspect_kernel takes a physical e_entry as it is, as Linux 6.x writes it", "[boot]") {
    ElfSpec spec;
    // Like vmlinux: text linked high, a per-CPU segment linked at virtual 0
    // whose virtual range covers the physical entry address.
    spec.segments = {{0x1000000, 0xffffffff81000000, 0x1000, 0x1000}, {0x3000000, 0x0, 0x100, 0x2000000}};
    spec.entry = 0x1000200;
    auto info = inspect_kernel(make_elf(spec));
    REQUIRE(info.ok());
    CHECK(info->elf->entry_physical->value() == 0x1000200);
    CHECK_FALSE(info->pvh_entry);
}

TEST_CASE("inspect_kernel rejects malformed ELF images with one clear line", "[boot]") {
    ElfSpec spec;
    Image image = make_elf(spec);
    const uint64_t load_header = program_header_offset(1);
    SECTION("unknown class") {
        image[EI_CLASS] = std::byte{3};
        CHECK_THAT(inspect_error(image), Catch::Contains("ELF class 3 is neither ELFCLASS32 nor ELFCLASS64"));
    }
    SECTION("ELF64 bytes marked 32-bit") {
        image[EI_CLASS] = std::byte{ELFCLASS32};
        CHECK_THAT(inspect_error(image), Catch::Contains("ELF32"));
    }
    SECTION("big-endian") {
        image[EI_DATA] = std::byte{ELFDATA2MSB};
        CHECK_THAT(inspect_error(image), Catch::Contains("little-endian"));
    }
    SECTION("other machine") {
        put<Elf64_Half>(image, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
        CHECK_THAT(inspect_error(image), Catch::Contains("not x86-64"));
    }
    SECTION("shared object") {
        put<Elf64_Half>(image, offsetof(Elf64_Ehdr, e_type), ET_DYN);
        CHECK_THAT(inspect_error(image), Catch::Contains("ET_EXEC"));
    }
    SECTION("program headers beyond the file") {
        put<Elf64_Off>(image, offsetof(Elf64_Ehdr, e_phoff), image.size() - 8);
        CHECK_THAT(inspect_error(image), Catch::Contains("program headers"));
    }
    SECTION("program header offset that overflows") {
        put<Elf64_Off>(image, offsetof(Elf64_Ehdr, e_phoff), ~uint64_t{0} - 16);
        CHECK_THAT(inspect_error(image), Catch::Contains("program headers"));
    }
    SECTION("absurd program header count") {
        put<Elf64_Half>(image, offsetof(Elf64_Ehdr, e_phnum), 0xffff);
        CHECK_THAT(inspect_error(image), Catch::Contains("program headers"));
    }
    SECTION("wrong program header size") {
        put<Elf64_Half>(image, offsetof(Elf64_Ehdr, e_phentsize), 32);
        CHECK_THAT(inspect_error(image), Catch::Contains("program header size"));
    }
    SECTION("p_filesz larger than p_memsz") {
        put<Elf64_Xword>(image, load_header + offsetof(Elf64_Phdr, p_memsz), 0x1000);
        CHECK_THAT(inspect_error(image), Catch::Contains("larger than p_memsz"));
    }
    SECTION("segment data beyond the file") {
        put<Elf64_Off>(image, load_header + offsetof(Elf64_Phdr, p_offset), image.size() - 0x1000);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("segment offset that overflows") {
        put<Elf64_Off>(image, load_header + offsetof(Elf64_Phdr, p_offset), ~uint64_t{0} - 0x10);
        CHECK_THAT(inspect_error(image), Catch::Contains("past the end"));
    }
    SECTION("physical range that overflows") {
        put<Elf64_Addr>(image, load_header + offsetof(Elf64_Phdr, p_paddr), ~uint64_t{0} - 0x1000);
        CHECK_THAT(inspect_error(image), Catch::Contains("physical address space"));
    }
    SECTION("absurd memory size") {
        put<Elf64_Xword>(image, load_header + offsetof(Elf64_Phdr, p_memsz), uint64_t{1} << 60);
        CHECK_THAT(inspect_error(image), Catch::Contains("physical address space"));
    }
    SECTION("virtual range that overflows") {
        put<Elf64_Addr>(image, load_header + offsetof(Elf64_Phdr, p_vaddr), ~uint64_t{0} - 0x1000);
        CHECK_THAT(inspect_error(image), Catch::Contains("overflows"));
    }
    SECTION("no loadable segment") {
        put<Elf64_Word>(image, load_header + offsetof(Elf64_Phdr, p_type), PT_NULL);
        CHECK_THAT(inspect_error(image), Catch::Contains("no loadable"));
    }
    SECTION("entry outside every segment") {
        put<Elf64_Addr>(image, offsetof(Elf64_Ehdr, e_entry), 0x5000000);
        CHECK_THAT(inspect_error(image), Catch::Contains("entry point"));
    }
    SECTION("note segment beyond the file") {
        put<Elf64_Xword>(image, program_header_offset(0) + offsetof(Elf64_Phdr, p_filesz), image.size());
        CHECK_THAT(inspect_error(image), Catch::Contains("note segment"));
    }
    SECTION("note that overruns its segment") {
        const uint64_t notes = get<Elf64_Off>(image, program_header_offset(0) + offsetof(Elf64_Phdr, p_offset));
        put<Elf64_Word>(image, notes + offsetof(Elf64_Nhdr, n_descsz), 0xfffffff0);
        CHECK_THAT(inspect_error(image), Catch::Contains("overruns"));
    }
}

TEST_CASE("inspect_kernel rejects bad PVH notes", "[boot]") {
    ElfSpec spec;
    SECTION("descriptor of an odd size") {
        spec.pvh_entry = 0x100000;
        spec.pvh_descriptor_size = 2;
        CHECK_THAT(inspect_error(make_elf(spec)), Catch::Contains("2-byte descriptor"));
    }
    SECTION("entry above 4 GiB") {
        spec.segments = {{0x100000000, 0x100000000, 0x1000, 0x1000}};
        spec.entry = 0x100000000;
        spec.pvh_entry = 0x100000010;
        CHECK_THAT(inspect_error(make_elf(spec)), Catch::Contains("not a 32-bit address"));
    }
    SECTION("entry outside the segments") {
        spec.pvh_entry = 0x900000;
        CHECK_THAT(inspect_error(make_elf(spec)), Catch::Contains("PVH entry"));
    }
}

TEST_CASE("inspect_kernel rejects every truncation of an ELF image", "[boot]") {
    ElfSpec spec;
    spec.pvh_entry = 0x100000;
    spec.linux_note = true;
    spec.segments = {{0x100000, 0x100000, 0x200, 0x1000}, {0x200000, 0x200000, 0x100, 0x100}};
    Image image = make_elf(spec);
    REQUIRE(inspect_kernel(image).ok());
    for (size_t size = 0; size < image.size(); ++size) {
        Image truncated(image.begin(), image.begin() + static_cast<std::ptrdiff_t>(size));
        INFO("size " << size);
        auto result = inspect_kernel(truncated);
        REQUIRE_FALSE(result.ok());
        CHECK(one_line(result.error().message));
    }
}

TEST_CASE("inspect_kernel and load_kernel survive random corruption", "[boot]") {
    ElfSpec elf_spec;
    elf_spec.pvh_entry = 0x100000;
    elf_spec.linux_note = true;
    const std::vector<Image> originals = {make_bzimage(), make_elf(elf_spec)};
    std::mt19937 random(1234);
    size_t accepted = 0;
    GuestMemory memory = make_memory(32 * 1024 * 1024);
    const Image initrd(0x1000, std::byte{1});
    BootOptions options;
    options.cmdline = "console=ttyS0";
    options.initrd = std::span<const std::byte>(initrd);
    for (const Image& original : originals) {
        // Corrupt the headers, where the parsers look.
        const size_t header_bytes = std::min<size_t>(original.size(), 0x300);
        for (int round = 0; round < 3000; ++round) {
            Image image = original;
            const int flips = 1 + static_cast<int>(random() % 4);
            for (int flip = 0; flip < flips; ++flip) {
                image[random() % header_bytes] = std::byte(static_cast<uint8_t>(random()));
            }
            auto result = inspect_kernel(image);
            if (result.ok()) {
                ++accepted;
                // What inspection accepts, the loader handles without harm.
                auto setup = load_kernel(memory, image, *result, options);
                if (!setup.ok()) {
                    CHECK(one_line(setup.error().message));
                }
            } else {
                CHECK(one_line(result.error().message));
            }
        }
    }
    CHECK(accepted > 0);  // some flips hit unchecked bytes; most do not
}

TEST_CASE("inspect_kernel rejects what is not a kernel", "[boot]") {
    CHECK_THAT(inspect_error(Image{}), Catch::Contains("0 bytes"));
    CHECK_THAT(inspect_error(Image(4096, std::byte{0})), Catch::Contains("neither ELF magic"));
    Image elf_magic_only{std::byte{0x7f}, std::byte{'E'}, std::byte{'L'}, std::byte{'F'}};
    CHECK_THAT(inspect_error(elf_magic_only), Catch::Contains("too short"));
}

TEST_CASE("inspect_kernel on Debian's kernel", "[boot]") {
    auto debian = read_debian_kernel();
    if (!debian) {
        WARN("skipped: no readable /boot/vmlinuz-*-amd64");
        return;
    }
    const Image& image = *debian;
    auto info = inspect_kernel(image);
    REQUIRE(info.ok());
    CHECK(info->format == KernelFormat::BzImage);
    CHECK(info->is_linux);
    const auto& header = info->bzimage->header;
    CHECK(header.version >= 0x020c);
    CHECK((header.xloadflags & linux_boot::kXlfKernel64) != 0);
    CHECK(header.relocatable_kernel == 1);
    CHECK(header.cmdline_size >= 255);
    CHECK(info->bzimage->kernel_offset + info->bzimage->kernel_size <= image.size());
    // Debian's kernel is signed: a signature follows the protected-mode part.
    CHECK(info->bzimage->kernel_size > image.size() / 2);
}
