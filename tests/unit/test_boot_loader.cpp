#include "boot/layout.h"
#include "boot/loader.h"
#include "boot/memory_map.h"
#include "boot/pvh_start_info.h"
#include "test_boot_images.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

using namespace skiff;
using namespace skiff::boot;
using namespace skiff::boot::testing;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

struct Loaded {
    KernelInfo kernel;
    BootSetup setup;
};

Loaded load(const GuestMemory& memory, const Image& image, const BootOptions& options) {
    auto kernel = inspect_kernel(image);
    REQUIRE(kernel.ok());
    auto setup = load_kernel(memory, image, *kernel, options);
    if (!setup.ok()) {
        FAIL(setup.error().message);
    }
    return Loaded{*kernel, *setup};
}

std::string load_error(const GuestMemory& memory, const Image& image, const BootOptions& options) {
    auto kernel = inspect_kernel(image);
    REQUIRE(kernel.ok());
    auto setup = load_kernel(memory, image, *kernel, options);
    REQUIRE_FALSE(setup.ok());
    CHECK(one_line(setup.error().message));
    return setup.error().message;
}

std::string read_string(const GuestMemory& memory, GuestAddress address, size_t max) {
    std::string text;
    for (size_t index = 0; index < max; ++index) {
        auto c = memory.read_object<char>(address + index);
        REQUIRE(c.ok());
        if (*c == '\0') {
            return text;
        }
        text.push_back(*c);
    }
    FAIL("string not terminated");
    return text;
}

Image read_back(const GuestMemory& memory, GuestAddress address, size_t size) {
    Image bytes(size);
    REQUIRE(memory.read(address, bytes).ok());
    return bytes;
}

Image make_initrd(size_t size) {
    Image initrd(size);
    for (size_t index = 0; index < size; ++index) {
        initrd[index] = pattern_byte(index, 0x77);
    }
    return initrd;
}

std::vector<MemoryMapEntry> e820_of(const linux_boot::BootParams& params) {
    std::vector<MemoryMapEntry> entries;
    for (size_t index = 0; index < params.e820_entries; ++index) {
        const auto& entry = params.e820_table[index];
        entries.push_back(MemoryMapEntry{GuestAddress(entry.address), entry.size, MemoryType(entry.type)});
    }
    return entries;
}

}  // namespace

TEST_CASE("the memory map reserves the EBDA and BIOS area and lists each region", "[boot]") {
    GuestMemory small = make_memory(64 * kMiB);
    const std::vector<MemoryMapEntry> expected{
        {GuestAddress(0), 0x9fc00, MemoryType::Ram},
        {GuestAddress(0x9fc00), 0x400, MemoryType::Reserved},
        {GuestAddress(0xe0000), 0x20000, MemoryType::Reserved},
        {GuestAddress(0x100000), 63 * kMiB, MemoryType::Ram},
    };
    CHECK(guest_memory_map(small) == expected);

    GuestMemory split = make_memory(16 * kMiB, 2 * kMiB);
    auto map = guest_memory_map(split);
    REQUIRE(map.size() == 5);
    CHECK(map[3] == MemoryMapEntry{GuestAddress(0x100000), 15 * kMiB, MemoryType::Ram});
    CHECK(map[4] == MemoryMapEntry{GuestAddress(0x100000000), 2 * kMiB, MemoryType::Ram});
}

TEST_CASE("load_kernel loads a bzImage with a zero page", "[boot]") {
    GuestMemory memory = make_memory(64 * kMiB);
    BzImageSpec spec;
    Image image = make_bzimage(spec);
    Image initrd = make_initrd(0x12345);
    BootOptions options;
    options.cmdline = "console=ttyS0 quiet";
    options.initrd = std::span<const std::byte>(initrd);
    options.rsdp = GuestAddress(0xe0000);
    Loaded loaded = load(memory, image, options);

    CHECK(loaded.setup.mode == EntryMode::Linux64);
    CHECK(loaded.setup.entry.value() == 0x100200);
    CHECK(loaded.setup.boot_info == layout::kZeroPage);
    CHECK(describe(loaded.setup) == "Linux 64-bit entry 0x100200, boot_params at 0x7000");

    // The protected-mode kernel, byte for byte, at 1 MiB.
    const uint64_t setup_size = bzimage_setup_size(spec);
    Image kernel(image.begin() + static_cast<std::ptrdiff_t>(setup_size), image.end());
    CHECK(read_back(memory, layout::kHighMemory, kernel.size()) == kernel);

    auto params = memory.read_object<linux_boot::BootParams>(layout::kZeroPage);
    REQUIRE(params.ok());
    const auto& header = params->hdr;
    CHECK(header.header == linux_boot::kHeaderMagic);
    CHECK(header.version == 0x020f);
    CHECK(header.syssize == spec.kernel_size / 16);
    CHECK(header.init_size == spec.init_size);
    CHECK(header.type_of_loader == 0xff);
    CHECK(header.loadflags == (linux_boot::kLoadedHigh | linux_boot::kCanUseHeap));
    CHECK(header.heap_end_ptr == 0xde00);
    CHECK(header.cmd_line_ptr == layout::kCmdline.value());
    CHECK(params->ext_cmd_line_ptr == 0);
    CHECK(read_string(memory, layout::kCmdline, 64) == "console=ttyS0 quiet");
    CHECK(params->acpi_rsdp_address == 0xe0000);
    CHECK(params->sentinel == 0);

    // The initrd: page-aligned, as high as RAM allows, intact.
    CHECK(header.ramdisk_size == initrd.size());
    CHECK(header.ramdisk_image % 4096 == 0);
    CHECK(header.ramdisk_image + initrd.size() <= 64 * kMiB);
    CHECK(header.ramdisk_image + initrd.size() > 64 * kMiB - 4096);
    CHECK(params->ext_ramdisk_image == 0);
    CHECK(read_back(memory, GuestAddress(header.ramdisk_image), initrd.size()) == initrd);

    CHECK(e820_of(*params) == guest_memory_map(memory));
}

TEST_CASE("load_kernel keeps the initrd under initrd_addr_max and above the kernel", "[boot]") {
    GuestMemory memory = make_memory(64 * kMiB);
    BzImageSpec spec;
    spec.initrd_addr_max = 0x1ffffff;  // 32 MiB - 1
    spec.pref_address = 0x1000000;
    spec.init_size = 0x800000;  // the kernel claims up to 24 MiB
    Image image = make_bzimage(spec);
    Image initrd = make_initrd(3 * kMiB);
    BootOptions options;
    options.initrd = std::span<const std::byte>(initrd);
    Loaded loaded = load(memory, image, options);
    auto params = memory.read_object<linux_boot::BootParams>(layout::kZeroPage);
    REQUIRE(params.ok());
    CHECK(params->hdr.ramdisk_image == 32 * kMiB - 3 * kMiB);

    SECTION("an initrd that fits between kernel and limit only exactly") {
        Image exact = make_initrd(8 * kMiB);
        options.initrd = std::span<const std::byte>(exact);
        load(memory, image, options);
        params = memory.read_object<linux_boot::BootParams>(layout::kZeroPage);
        CHECK(params->hdr.ramdisk_image == 24 * kMiB);
    }
    SECTION("one page more does not fit") {
        Image too_big = make_initrd(8 * kMiB + 1);
        options.initrd = std::span<const std::byte>(too_big);
        CHECK_THAT(load_error(memory, image, options), Catch::Contains("does not fit"));
    }
    SECTION("an empty initrd is refused") {
        Image empty;
        options.initrd = std::span<const std::byte>(empty);
        CHECK_THAT(load_error(memory, image, options), Catch::Contains("empty"));
    }
}

TEST_CASE("load_kernel checks the command line", "[boot]") {
    GuestMemory memory = make_memory(32 * kMiB);
    BzImageSpec spec;
    spec.cmdline_size = 16;
    Image image = make_bzimage(spec);
    BootOptions options;
    options.cmdline = std::string(16, 'x');
    load(memory, image, options);
    CHECK(read_string(memory, layout::kCmdline, 32) == options.cmdline);
    options.cmdline = std::string(17, 'x');
    CHECK_THAT(load_error(memory, image, options), Catch::Contains("at most 16 (cmdline_size)"));
    options.cmdline = std::string("a\0b", 3);
    CHECK_THAT(load_error(memory, image, options), Catch::Contains("NUL"));

    Image elf = make_elf();
    options.cmdline = std::string(layout::kCmdlineMax - 1, 'y');
    load(memory, elf, options);
    options.cmdline.push_back('y');
    CHECK_THAT(load_error(memory, elf, options), Catch::Contains("skiff passes at most"));
}

TEST_CASE("load_kernel refuses a bzImage that does not fit in guest memory", "[boot]") {
    BzImageSpec spec;
    spec.init_size = 0x3f98000;  // Debian's: decompression needs 16 MiB + 63.6 MiB
    Image image = make_bzimage(spec);
    GuestMemory memory = make_memory(64 * kMiB);
    CHECK_THAT(load_error(memory, image, {}), Catch::Contains("give the guest more memory"));
    GuestMemory enough = make_memory(80 * kMiB);
    load(enough, image, {});
}

TEST_CASE("load_kernel refuses PVH for a bzImage and zero vCPUs", "[boot]") {
    GuestMemory memory = make_memory(32 * kMiB);
    Image image = make_bzimage();
    BootOptions options;
    options.protocol = BootProtocol::Pvh;
    CHECK_THAT(load_error(memory, image, options), Catch::Contains("PVH"));
    options.protocol = BootProtocol::Auto;
    options.cpu_count = 0;
    CHECK_THAT(load_error(memory, image, options), Catch::Contains("cpu_count"));
}

TEST_CASE("load_kernel loads an ELF vmlinux through the 64-bit entry", "[boot]") {
    GuestMemory memory = make_memory(64 * kMiB);
    REQUIRE(memory.fill(GuestAddress(0x1000000), 0x10000, std::byte{0xaa}).ok());
    ElfSpec spec;
    spec.segments = {{0x1000000, 0xffffffff81000000, 0x2000, 0x5000}};
    spec.entry = 0xffffffff81000100;
    spec.linux_note = true;
    Image image = make_elf(spec);
    Image initrd = make_initrd(0x4000);
    BootOptions options;
    options.cmdline = "root=/dev/vda";
    options.initrd = std::span<const std::byte>(initrd);
    Loaded loaded = load(memory, image, options);
    CHECK(loaded.setup.mode == EntryMode::Linux64);
    CHECK(loaded.setup.entry.value() == 0x1000100);
    CHECK(loaded.setup.boot_info == layout::kZeroPage);

    // Segment contents at p_paddr, then zeros up to p_memsz.
    Image contents = read_back(memory, GuestAddress(0x1000000), 0x2000);
    for (size_t index = 0; index < contents.size(); ++index) {
        REQUIRE(contents[index] == pattern_byte(index, 0x30));
    }
    Image bss = read_back(memory, GuestAddress(0x1002000), 0x3000);
    CHECK(bss == Image(0x3000, std::byte{0}));
    CHECK(read_back(memory, GuestAddress(0x1005000), 1) == Image{std::byte{0xaa}});

    auto params = memory.read_object<linux_boot::BootParams>(layout::kZeroPage);
    REQUIRE(params.ok());
    CHECK(params->hdr.header == linux_boot::kHeaderMagic);
    CHECK(params->hdr.boot_flag == 0xaa55);
    CHECK(params->hdr.version >= 0x020c);
    CHECK(params->hdr.type_of_loader == 0xff);
    CHECK(params->hdr.cmd_line_ptr == layout::kCmdline.value());
    CHECK(read_string(memory, layout::kCmdline, 64) == "root=/dev/vda");
    CHECK(params->hdr.ramdisk_size == 0x4000);
    CHECK(params->hdr.ramdisk_image == 64 * kMiB - 0x4000);
    CHECK(params->acpi_rsdp_address == 0);
    CHECK(e820_of(*params) == guest_memory_map(memory));
}

TEST_CASE("load_kernel boots an ELF with a PVH note through PVH", "[boot]") {
    GuestMemory memory = make_memory(32 * kMiB, 2 * kMiB);
    ElfSpec spec;
    spec.segments = {{0x100000, 0x100000, 0x1000, 0x1000}};
    spec.entry = 0x100800;
    spec.pvh_entry = 0x100040;
    Image image = make_elf(spec);
    Image initrd = make_initrd(0x2100);
    BootOptions options;
    options.cmdline = "testguest.mode=halt";
    options.initrd = std::span<const std::byte>(initrd);
    options.rsdp = GuestAddress(0xe0000);

    SECTION("Auto picks PVH") {
        Loaded loaded = load(memory, image, options);
        CHECK(loaded.setup.mode == EntryMode::Pvh32);
        CHECK(loaded.setup.entry.value() == 0x100040);
        CHECK(loaded.setup.boot_info == layout::kPvhStartInfo);
        CHECK(describe(loaded.setup) == "PVH 32-bit entry 0x100040, hvm_start_info at 0x6000");

        auto info = memory.read_object<pvh::StartInfo>(layout::kPvhStartInfo);
        REQUIRE(info.ok());
        CHECK(info->magic == 0x336ec578);
        CHECK(info->version == 1);
        CHECK(info->flags == 0);
        CHECK(info->cmdline_address == layout::kCmdline.value());
        CHECK(read_string(memory, GuestAddress(info->cmdline_address), 64) == "testguest.mode=halt");
        CHECK(info->rsdp_address == 0xe0000);
        REQUIRE(info->module_count == 1);
        auto module = memory.read_object<pvh::ModuleEntry>(GuestAddress(info->module_list_address));
        REQUIRE(module.ok());
        CHECK(module->size == initrd.size());
        CHECK(module->address % 4096 == 0);
        CHECK(module->address + module->size <= 32 * kMiB);
        CHECK(read_back(memory, GuestAddress(module->address), initrd.size()) == initrd);

        auto expected = guest_memory_map(memory);
        REQUIRE(info->memmap_entries == expected.size());
        CHECK(info->memmap_address == layout::kPvhMemmap.value());
        for (size_t index = 0; index < expected.size(); ++index) {
            auto entry = memory.read_object<pvh::MemmapEntry>(layout::kPvhMemmap + index * sizeof(pvh::MemmapEntry));
            REQUIRE(entry.ok());
            CHECK(entry->address == expected[index].start.value());
            CHECK(entry->size == expected[index].size);
            CHECK(entry->type == static_cast<uint32_t>(expected[index].type));
            CHECK(entry->reserved == 0);
        }
        CHECK(expected.back().start.value() == 0x100000000);
    }
    SECTION("Linux64 forced uses e_entry and a zero page") {
        options.protocol = BootProtocol::Linux64;
        Loaded loaded = load(memory, image, options);
        CHECK(loaded.setup.mode == EntryMode::Linux64);
        CHECK(loaded.setup.entry.value() == 0x100800);
        CHECK(loaded.setup.boot_info == layout::kZeroPage);
    }
    SECTION("PVH without an initrd has no module") {
        options.initrd.reset();
        load(memory, image, options);
        auto info = memory.read_object<pvh::StartInfo>(layout::kPvhStartInfo);
        REQUIRE(info.ok());
        CHECK(info->module_count == 0);
        CHECK(info->module_list_address == 0);
    }
}

TEST_CASE("load_kernel refuses PVH without a note", "[boot]") {
    GuestMemory memory = make_memory(32 * kMiB);
    BootOptions options;
    options.protocol = BootProtocol::Pvh;
    CHECK_THAT(load_error(memory, make_elf(), options), Catch::Contains("XEN_ELFNOTE_PHYS32_ENTRY"));
}

TEST_CASE("load_kernel refuses ELF segments over boot structures or outside memory", "[boot]") {
    GuestMemory memory = make_memory(32 * kMiB);
    ElfSpec spec;
    SECTION("below 1 MiB") {
        spec.segments = {{0x8000, 0x8000, 0x100, 0x100}};
        spec.entry = 0x8000;
        CHECK_THAT(load_error(memory, make_elf(spec), {}), Catch::Contains("below 1 MiB"));
    }
    SECTION("bss reaching past the end of RAM") {
        spec.segments = {{0x1f00000, 0x1f00000, 0x100, 0x200000}};
        spec.entry = 0x1f00000;
        CHECK_THAT(load_error(memory, make_elf(spec), {}), Catch::Contains("does not fit in guest memory"));
    }
    SECTION("in the MMIO hole") {
        spec.segments = {{0xd0000000, 0xd0000000, 0x100, 0x100}};
        spec.entry = 0xd0000000;
        CHECK_THAT(load_error(memory, make_elf(spec), {}), Catch::Contains("does not fit in guest memory"));
    }
    SECTION("initrd with a kernel at the top of RAM") {
        spec.segments = {{0x1000000, 0x1000000, 0x100, 0x1000000}};
        spec.entry = 0x1000000;
        Image initrd = make_initrd(16);
        BootOptions options;
        options.initrd = std::span<const std::byte>(initrd);
        CHECK_THAT(load_error(memory, make_elf(spec), options), Catch::Contains("initrd"));
    }
}

TEST_CASE("load_kernel refuses guest memory without the low megabyte", "[boot]") {
    auto memory = GuestMemory::create({{GuestAddress(0x100000), 16 * kMiB}});
    REQUIRE(memory.ok());
    Image image = make_elf();
    auto kernel = inspect_kernel(image);
    REQUIRE(kernel.ok());
    auto setup = load_kernel(*memory, image, *kernel, {});
    REQUIRE_FALSE(setup.ok());
    CHECK_THAT(setup.error().message, Catch::Contains("start at address 0"));
}

TEST_CASE("load_kernel on Debian's kernel", "[boot]") {
    auto debian = read_debian_kernel();
    if (!debian) {
        WARN("skipped: no readable /boot/vmlinuz-*-amd64");
        return;
    }
    const Image& image = *debian;
    Image initrd = make_initrd(3 * kMiB);
    BootOptions options;
    options.cmdline = "console=ttyS0 reboot=k panic=-1";
    options.initrd = std::span<const std::byte>(initrd);

    GuestMemory memory = make_memory(128 * kMiB);
    Loaded loaded = load(memory, image, options);
    CHECK(loaded.setup.entry.value() == 0x100200);
    const auto& layout = *loaded.kernel.bzimage;
    Image start(image.begin() + static_cast<std::ptrdiff_t>(layout.kernel_offset),
                image.begin() + static_cast<std::ptrdiff_t>(layout.kernel_offset + 4096));
    CHECK(read_back(memory, layout::kHighMemory, 4096) == start);
    auto params = memory.read_object<linux_boot::BootParams>(layout::kZeroPage);
    REQUIRE(params.ok());
    CHECK(params->hdr.version == layout.header.version);
    CHECK(params->hdr.ramdisk_image + initrd.size() <= 128 * kMiB);
    // Above the decompressed kernel (pref_address + init_size).
    CHECK(params->hdr.ramdisk_image >= layout.header.pref_address + layout.header.init_size);

    GuestMemory too_small = make_memory(48 * kMiB);
    CHECK_THAT(load_error(too_small, image, options), Catch::Contains("init_size"));
}
