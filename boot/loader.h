// Kernel loading: copies a checked kernel image into guest memory with its
// command line and initrd, and writes the boot information for the chosen
// entry. Two entries, two specs:
//  - Linux64: the 64-bit boot protocol of Linux Documentation/arch/x86/
//    boot.rst: long mode, identity paging, RSI = zero page (boot_params).
//    A bzImage always enters here (load address 0x100000 + 0x200); an ELF
//    vmlinux enters at e_entry, translated to where its segment loads.
//  - Pvh32: the Xen PVH start_info ABI: 32-bit protected mode, paging off,
//    EBX = hvm_start_info. ELF kernels with a XEN_ELFNOTE_PHYS32_ENTRY note;
//    the only entry of an ELF32 image.
#pragma once

#include "boot/initrd.h"
#include "boot/kernel_image.h"

#include <optional>
#include <span>
#include <string>

namespace skiff::boot {

enum class BootProtocol { Auto, Pvh, Linux64 };

// The CPU state the entry expects (cpu_state.h turns it into registers).
enum class EntryMode {
    Linux64,  // 64-bit long mode, RSI = boot_info (zero page)
    Pvh32,    // 32-bit protected mode, paging off, EBX = boot_info (hvm_start_info)
};

struct BootOptions {
    std::string cmdline;
    std::optional<InitrdSource> initrd;
    uint32_t cpu_count = 1;
    // Auto: PVH if the ELF has a PVH note, else the 64-bit entry.
    BootProtocol protocol = BootProtocol::Auto;
    // The RSDP from write_acpi_tables, passed in boot_params / hvm_start_info.
    std::optional<GuestAddress> rsdp;
};

struct BootSetup {
    EntryMode mode = EntryMode::Linux64;
    GuestAddress entry;      // first instruction, guest-physical
    GuestAddress boot_info;  // zero page (Linux64) or hvm_start_info (Pvh32)
};

// `kernel` must come from inspect_kernel(image). Errors: protocol not
// available for this image, kernel not fitting in guest memory or
// overlapping the boot structures below 1 MiB, command line too long for
// the kernel or skiff, initrd not fitting.
[[nodiscard]] Result<BootSetup> load_kernel(const GuestMemory& memory, std::span<const std::byte> image,
                                            const KernelInfo& kernel, const BootOptions& options);

// "Linux 64-bit entry 0x100200, boot_params at 0x7000".
[[nodiscard]] std::string describe(const BootSetup& setup);

}  // namespace skiff::boot
