// Format detection for kernel images; the checks live in bzimage.cpp
// (Linux boot.rst) and elf_kernel.cpp (ELF32 and ELF64, Xen PVH note).
#include "boot/kernel_image.h"

#include "boot/image_bytes.h"

#include <cstring>

namespace skiff::boot {

namespace {
constexpr unsigned char kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
bool has_elf_magic(std::span<const std::byte> head) {
    return head.size() >= sizeof(kElfMagic) && std::memcmp(head.data(), kElfMagic, sizeof(kElfMagic)) == 0;
}

bool has_bzimage_magic(std::span<const std::byte> head) {
    auto magic = read_at<uint32_t>(head, linux_boot::kSetupHeaderOffset + offsetof(linux_boot::SetupHeader, header));
    return magic && *magic == linux_boot::kHeaderMagic;
}

}  // namespace

static_assert(linux_boot::kSetupHeaderOffset + offsetof(linux_boot::SetupHeader, header) + 4 == kKernelMagicSpan);

bool looks_like_kernel(std::span<const std::byte> head) { return has_elf_magic(head) || has_bzimage_magic(head); }

std::string not_a_kernel_message(uint64_t size) {
    return fmt::format("not a kernel skiff can boot ({} bytes): neither ELF magic nor a bzImage \"HdrS\" header "
                       "at 0x202",
                       size);
}

Result<KernelInfo> inspect_kernel(std::span<const std::byte> image) {
    if (has_elf_magic(image)) {
        return inspect_elf(image);
    }
    if (has_bzimage_magic(image)) {
        return inspect_bzimage(image);
    }
    return Error{not_a_kernel_message(image.size())};
}

std::string describe(const KernelInfo& kernel) {
    if (kernel.format == KernelFormat::BzImage && kernel.bzimage) {
        uint16_t version = kernel.bzimage->header.version;
        return fmt::format("bzImage, boot protocol {}.{:02}", version >> 8, version & 0xff);
    }
    std::string text = kernel.format == KernelFormat::Elf32 ? "ELF32" : "ELF64";
    if (kernel.elf && kernel.elf->entry_physical) {
        text += fmt::format(", 64-bit entry {:#x}", kernel.elf->entry_physical->value());
    }
    if (kernel.pvh_entry) {
        text += fmt::format(", PVH entry {:#x}", kernel.pvh_entry->value());
    }
    if (kernel.is_linux) {
        text += ", Linux";
    }
    return text;
}

}  // namespace skiff::boot
