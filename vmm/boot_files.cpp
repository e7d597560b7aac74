#include "vmm/boot_files.h"

#include "boot/kernel_image.h"
#include "vmm/file_reader.h"

#include <algorithm>
#include <memory>

namespace skiff {

namespace {
constexpr std::string_view kGuestMemoryLimit = "that fit in guest memory: give the VM more --memory";
}  // namespace

Result<std::vector<std::byte>> read_kernel_file(const std::string& path, uint64_t memory_bytes) {
    auto file = TRY(InputFile::open(path, "kernel image"));
    std::vector<std::byte> head(static_cast<size_t>(std::min<uint64_t>(file.size(), boot::kKernelMagicSpan)));
    TRY(file.read_at(0, head));
    if (!boot::looks_like_kernel(head)) {
        return Error::format("kernel {}: {}", path, boot::not_a_kernel_message(file.size()));
    }
    TRY(file.check_size(memory_bytes, kGuestMemoryLimit));
    std::vector<std::byte> image(file.size());
    std::copy(head.begin(), head.end(), image.begin());
    TRY(file.read_at(head.size(), std::span<std::byte>(image).subspan(head.size())));
    return image;
}

Result<boot::InitrdSource> open_initrd(const std::string& path, uint64_t memory_bytes) {
    auto file = std::make_shared<InputFile>(TRY(InputFile::open(path, "initrd")));
    TRY(file->check_size(memory_bytes, kGuestMemoryLimit));
    uint64_t size = file->size();
    return boot::InitrdSource(size, [file](std::span<std::byte> place) { return file->read_at(0, place); });
}

}  // namespace skiff
