// Kernel image inspection: tells a Linux bzImage (Linux Documentation/arch/
// x86/boot.rst, 64-bit boot protocol) from an ELF64 x86-64 kernel (a
// vmlinux, or any ELF with a Xen PVH entry note) and from an ELF32 i386
// image with a PVH note, and checks everything the loader will later rely
// on. Inspection never touches guest memory.
#pragma once

#include "boot/boot_params.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace skiff::boot {

// Elf32 boots only through PVH: inspection refuses one without the note.
enum class KernelFormat { BzImage, Elf32, Elf64 };

// A checked bzImage: the setup header and where the protected-mode kernel
// lies in the file.
struct BzImageLayout {
    linux_boot::SetupHeader header{};  // as in the file; bytes past its end are 0
    uint64_t setup_header_size = 0;    // bytes of header the image holds, from 0x1f1
    uint64_t kernel_offset = 0;        // file offset of the protected-mode kernel
    uint64_t kernel_size = 0;          // syssize * 16
};

// One PT_LOAD segment; file and physical ranges are checked for overflow.
struct ElfSegment {
    uint64_t file_offset = 0;
    uint64_t file_size = 0;
    uint64_t memory_size = 0;       // >= file_size; the rest is zero-filled
    GuestAddress physical_address;  // p_paddr: where the loader puts it
    uint64_t virtual_address = 0;   // p_vaddr: where the kernel is linked
};

struct ElfLayout {
    uint64_t entry = 0;  // e_entry as linked (may be a high virtual address)
    // e_entry translated through its segment: the Linux 64-bit entry of an
    // ELF64. None for an ELF32, which enters only through PVH.
    std::optional<GuestAddress> entry_physical;
    std::vector<ElfSegment> segments;
};

struct KernelInfo {
    KernelFormat format = KernelFormat::BzImage;
    // A bzImage, or an ELF carrying a note named "Linux": the kernel takes
    // Linux command-line parameters.
    bool is_linux = false;
    // XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit PVH entry (ELF only; always set
    // for an ELF32).
    std::optional<GuestAddress> pvh_entry;
    std::optional<BzImageLayout> bzimage;  // set for KernelFormat::BzImage
    std::optional<ElfLayout> elf;          // set for KernelFormat::Elf32 and Elf64
};

// How many leading bytes looks_like_kernel() needs: up to the end of the
// bzImage "HdrS" magic at 0x202.
inline constexpr size_t kKernelMagicSpan = 0x206;

// Whether the image starts like one skiff can boot (ELF magic, or a
// bzImage "HdrS" at 0x202), from its first kKernelMagicSpan bytes (fewer
// for a smaller file): a large wrong file is refused before it is read.
[[nodiscard]] bool looks_like_kernel(std::span<const std::byte> head);

// The message for an image that does not (inspect_kernel's too).
[[nodiscard]] std::string not_a_kernel_message(uint64_t size);

// Detects the format and checks the image. Errors are one line naming what
// is wrong ("bzImage setup header: protected-mode kernel (... bytes at ...)
// extends past the end of the 4096-byte file").
[[nodiscard]] Result<KernelInfo> inspect_kernel(std::span<const std::byte> image);

// "bzImage, boot protocol 2.15", "ELF64, 64-bit entry 0x1000000, PVH entry
// 0x1000200", "ELF32, PVH entry 0x100000".
[[nodiscard]] std::string describe(const KernelInfo& kernel);

// The two format-specific halves of inspect_kernel, for tests and fuzzers.
[[nodiscard]] Result<KernelInfo> inspect_bzimage(std::span<const std::byte> image);
[[nodiscard]] Result<KernelInfo> inspect_elf(std::span<const std::byte> image);

}  // namespace skiff::boot
