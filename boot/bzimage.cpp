// bzImage checks, following Linux Documentation/arch/x86/boot.rst: the
// setup header at 0x1f1, boot protocol 2.12 or later with XLF_KERNEL_64
// (so skiff can enter the kernel in long mode at load address + 0x200), and
// a protected-mode kernel that lies inside the file.
#include "boot/image_bytes.h"
#include "boot/kernel_image.h"

#include <algorithm>
#include <bit>

namespace skiff::boot {

namespace {

using linux_boot::SetupHeader;

// Where the setup header's jump instruction says the header ends (boot.rst:
// "0x0202 + byte value at offset 0x0201").
constexpr uint64_t kJumpTargetOffset = 0x201;
constexpr uint64_t kHeaderStart = 0x202;
// The last field the loader needs (init_size, protocol 2.10) ends here.
constexpr uint64_t kRequiredHeaderEnd = linux_boot::kSetupHeaderOffset + offsetof(SetupHeader, init_size) + 4;
constexpr uint64_t kFullHeaderEnd = linux_boot::kSetupHeaderOffset + sizeof(SetupHeader);
// The kernel runs below 4 GiB (skiff enters it there with identity paging);
// a footprint beyond that is not a real kernel.
constexpr uint64_t kFootprintLimit = 0x100000000;

std::string version_text(uint16_t version) {
    return fmt::format("{}.{:02}", version >> 8, version & 0xff);
}

}  // namespace

Result<KernelInfo> inspect_bzimage(std::span<const std::byte> image) {
    const uint64_t file_size = image.size();
    auto jump_target = read_at<uint8_t>(image, kJumpTargetOffset);
    if (!jump_target) {
        return Error::format("bzImage: {}-byte file is too short for a setup header", file_size);
    }
    const uint64_t header_end = kHeaderStart + *jump_target;
    if (header_end > file_size) {
        return Error::format("bzImage setup header: ends at {:#x}, past the end of the {}-byte file", header_end,
                             file_size);
    }
    if (header_end < kRequiredHeaderEnd) {
        return Error::format("bzImage setup header: ends at {:#x}, too short for boot protocol 2.12 (needs {:#x})",
                             header_end, kRequiredHeaderEnd);
    }

    BzImageLayout layout;
    layout.setup_header_size = std::min(header_end, kFullHeaderEnd) - linux_boot::kSetupHeaderOffset;
    std::memcpy(&layout.header, image.data() + linux_boot::kSetupHeaderOffset, layout.setup_header_size);
    const SetupHeader& header = layout.header;

    if (header.header != linux_boot::kHeaderMagic) {
        return Error{"bzImage setup header: no \"HdrS\" magic at 0x202"};
    }
    // Fields of the packed header go to fmt as copies: fmt takes its
    // arguments by reference, and a reference to a misaligned field is
    // undefined behaviour (UBSan reports it).
    if (header.boot_flag != linux_boot::kBootFlag) {
        return Error::format("bzImage setup header: boot_flag is {:#06x}, not 0xaa55", uint16_t{header.boot_flag});
    }
    if (header.version < linux_boot::kMinimumVersion) {
        return Error::format("bzImage boot protocol {} is older than 2.12: no 64-bit entry point",
                             version_text(header.version));
    }
    if ((header.xloadflags & linux_boot::kXlfKernel64) == 0) {
        return Error{"bzImage has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags): a 32-bit kernel"};
    }
    if ((header.loadflags & linux_boot::kLoadedHigh) == 0) {
        return Error{"bzImage: LOADED_HIGH is clear (an old zImage that loads at 0x10000), not supported"};
    }

    const uint64_t setup_sects = header.setup_sects == 0 ? linux_boot::kDefaultSetupSects : header.setup_sects;
    const uint64_t setup_size = (setup_sects + 1) * linux_boot::kSectorSize;
    // setup_size >= 1024 > 0x301, the furthest a header can end: the setup
    // code always contains the header.
    if (header.syssize == 0) {
        return Error{"bzImage setup header: syssize is 0 (no protected-mode kernel)"};
    }
    const uint64_t kernel_size = uint64_t{header.syssize} * 16;  // < 2^36: no overflow
    if (!range_inside(setup_size, kernel_size, file_size)) {
        return Error::format(
            "bzImage: protected-mode kernel ({} bytes at {:#x}, from setup_sects {} and syssize {:#x}) extends past "
            "the end of the {}-byte file",
            kernel_size, setup_size, header.setup_sects, uint32_t{header.syssize}, file_size);
    }
    if (header.relocatable_kernel != 0 && !std::has_single_bit(header.kernel_alignment)) {
        return Error::format("bzImage setup header: kernel_alignment {:#x} is not a power of two",
                             uint32_t{header.kernel_alignment});
    }
    if (header.init_size == 0) {
        return Error{"bzImage setup header: init_size is 0"};
    }
    if (header.pref_address >= kFootprintLimit || kFootprintLimit - header.pref_address < header.init_size) {
        return Error::format("bzImage setup header: pref_address {:#x} + init_size {:#x} lies beyond 4 GiB",
                             uint64_t{header.pref_address}, uint32_t{header.init_size});
    }

    layout.kernel_offset = setup_size;
    layout.kernel_size = kernel_size;
    KernelInfo info;
    info.format = KernelFormat::BzImage;
    info.is_linux = true;
    info.bzimage = layout;
    return info;
}

}  // namespace skiff::boot
