// Kernel loading; see loader.h (Linux boot.rst 64-bit boot protocol, Xen
// PVH start_info ABI).
#include "boot/loader.h"

#include "boot/image_bytes.h"
#include "boot/initrd.h"
#include "boot/layout.h"
#include "boot/memory_map.h"
#include "boot/pvh_start_info.h"
#include "boot/zero_page.h"

#include <algorithm>

namespace skiff::boot {

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

Result<EntryMode> choose_mode(const KernelInfo& kernel, BootProtocol protocol) {
    if (kernel.format == KernelFormat::BzImage) {
        if (protocol == BootProtocol::Pvh) {
            return Error{"a bzImage boots only through the Linux 64-bit entry; PVH needs an ELF kernel (vmlinux) "
                         "with a XEN_ELFNOTE_PHYS32_ENTRY note"};
        }
        return EntryMode::Linux64;
    }
    if (kernel.format == KernelFormat::Elf32) {
        if (protocol == BootProtocol::Linux64) {
            return Error{"an ELF32 image boots only through PVH (its XEN_ELFNOTE_PHYS32_ENTRY note): the Linux "
                         "64-bit entry needs an ELF64 kernel (vmlinux) or a bzImage"};
        }
        if (!kernel.pvh_entry) {
            return Error{"kernel information is incomplete: an ELF32 image without its PVH entry"};
        }
        return EntryMode::Pvh32;
    }
    switch (protocol) {
        case BootProtocol::Pvh:
            if (!kernel.pvh_entry) {
                return Error{"PVH boot requested but the ELF kernel has no XEN_ELFNOTE_PHYS32_ENTRY note "
                             "(build Linux with CONFIG_PVH=y, or use the 64-bit entry)"};
            }
            return EntryMode::Pvh32;
        case BootProtocol::Linux64: return EntryMode::Linux64;
        case BootProtocol::Auto: break;
    }
    return kernel.pvh_entry ? EntryMode::Pvh32 : EntryMode::Linux64;
}

// The loader's fixed layout needs RAM from 0 through 1 MiB and beyond.
Result<const GuestRegion*> first_region(const GuestMemory& memory) {
    if (memory.regions().empty() || memory.regions().front().start.value() != 0 ||
        memory.regions().front().end() <= layout::kHighMemory.value()) {
        return Error{"guest memory must start at address 0 and extend past 1 MiB"};
    }
    return &memory.regions().front();
}

Error does_not_fit(uint64_t needed_end, const GuestRegion& region, std::string_view why) {
    return Error::format(
        "kernel needs guest RAM up to {:#x} ({} MiB, {}) but RAM below 4 GiB ends at {:#x} ({} MiB): give the guest "
        "more memory",
        needed_end, (needed_end + kMiB - 1) / kMiB, why, region.end(), region.end() / kMiB);
}

// Copies the protected-mode kernel to 1 MiB. Returns the end of the memory
// the kernel claims: boot.rst's init_size from where the 64-bit entry
// decompresses (pref_address, or the load address aligned up to
// kernel_alignment if that is higher and the kernel is relocatable).
Result<uint64_t> load_bzimage(const GuestMemory& memory, const GuestRegion& region, std::span<const std::byte> image,
                              const BzImageLayout& layout) {
    auto kernel = sub_span(image, layout.kernel_offset, layout.kernel_size);
    if (!kernel) {
        return Error{"bzImage does not match its inspection (protected-mode kernel outside the file)"};
    }
    const linux_boot::SetupHeader& header = layout.header;
    const uint64_t load = layout::kHighMemory.value();
    uint64_t run_base = header.pref_address;
    if (header.relocatable_kernel != 0) {
        const uint64_t alignment = header.kernel_alignment;
        run_base = std::max((load + alignment - 1) & ~(alignment - 1), run_base);
    }
    const uint64_t copy_end = load + layout.kernel_size;
    const uint64_t run_end = run_base + header.init_size;  // < 4 GiB + 4 GiB: checked at inspection
    if (copy_end > region.end()) {
        return does_not_fit(copy_end, region, "the compressed kernel at 0x100000");
    }
    if (run_end > region.end()) {
        return does_not_fit(run_end, region,
                            fmt::format("decompression at {:#x} + init_size {:#x}", run_base, uint32_t{header.init_size}));
    }
    TRY(memory.write(layout::kHighMemory, *kernel).context_error("copying the kernel"));
    return std::max(copy_end, run_end);
}

// Copies each PT_LOAD segment to its p_paddr and zero-fills the rest of its
// p_memsz. Returns the end of the highest segment.
Result<uint64_t> load_elf(const GuestMemory& memory, std::span<const std::byte> image, const ElfLayout& layout) {
    uint64_t kernel_end = 0;
    for (size_t index = 0; index < layout.segments.size(); ++index) {
        const ElfSegment& segment = layout.segments[index];
        const uint64_t start = segment.physical_address.value();
        auto bytes = sub_span(image, segment.file_offset, segment.file_size);
        if (!bytes || segment.file_size > segment.memory_size) {
            return Error::format("ELF segment {} does not match its inspection", index);
        }
        if (start < layout::kHighMemory.value()) {
            return Error::format(
                "ELF segment {} ({:#x}+{:#x}) overlaps the boot structures below 1 MiB: kernels must load at or "
                "above {:#x}",
                index, start, segment.memory_size, layout::kHighMemory.value());
        }
        if (!memory.contains(segment.physical_address, segment.memory_size)) {
            return Error::format(
                "ELF segment {} ({:#x}+{:#x}) does not fit in guest memory (RAM ends at {:#x} or at the MMIO hole "
                "{:#x}): give the guest more memory",
                index, start, segment.memory_size, memory.end().value(), layout::kMmioHoleStart.value());
        }
        TRY(memory.write(segment.physical_address, *bytes).context_error("copying the kernel"));
        TRY(memory.fill(segment.physical_address + segment.file_size, segment.memory_size - segment.file_size,
                        std::byte{0}));
        kernel_end = std::max(kernel_end, start + segment.memory_size);
    }
    return kernel_end;
}

// The command line at kCmdline, NUL-terminated. `kernel_maximum` is the
// bzImage's cmdline_size (which excludes the NUL).
Result<void> write_cmdline(const GuestMemory& memory, const std::string& cmdline,
                           std::optional<uint64_t> kernel_maximum) {
    if (cmdline.find('\0') != std::string::npos) {
        return Error{"kernel command line contains a NUL byte"};
    }
    if (kernel_maximum && cmdline.size() > *kernel_maximum) {
        return Error::format("kernel command line is {} bytes; this kernel accepts at most {} (cmdline_size)",
                             cmdline.size(), *kernel_maximum);
    }
    if (cmdline.size() + 1 > layout::kCmdlineMax) {
        return Error::format("kernel command line is {} bytes; skiff passes at most {}", cmdline.size(),
                             layout::kCmdlineMax - 1);
    }
    TRY(memory.write(layout::kCmdline, std::as_bytes(std::span(cmdline.data(), cmdline.size()))));
    TRY(memory.fill(layout::kCmdline + cmdline.size(), 1, std::byte{0}));
    return {};
}

}  // namespace

Result<BootSetup> load_kernel(const GuestMemory& memory, std::span<const std::byte> image, const KernelInfo& kernel,
                              const BootOptions& options) {
    if (options.cpu_count == 0) {
        return Error{"cpu_count is 0"};
    }
    const bool bzimage = kernel.format == KernelFormat::BzImage;
    if ((bzimage && !kernel.bzimage) || (!bzimage && !kernel.elf)) {
        return Error{"kernel information is incomplete: pass the result of inspect_kernel"};
    }
    const EntryMode mode = TRY(choose_mode(kernel, options.protocol));
    if (!bzimage && mode == EntryMode::Linux64 && !kernel.elf->entry_physical) {
        return Error{"kernel information is incomplete: an ELF without its 64-bit entry"};
    }
    const GuestRegion& region = *TRY(first_region(memory));

    BootSetup setup;
    setup.mode = mode;
    uint64_t kernel_end = 0;
    std::optional<uint64_t> cmdline_maximum;
    uint64_t initrd_limit = layout::kMmioHoleStart.value();
    if (bzimage) {
        kernel_end = TRY(load_bzimage(memory, region, image, *kernel.bzimage));
        setup.entry = layout::kHighMemory + linux_boot::kEntry64Offset;
        cmdline_maximum = uint64_t{kernel.bzimage->header.cmdline_size};  // a copy: the field is packed
        initrd_limit = uint64_t{kernel.bzimage->header.initrd_addr_max} + 1;
    } else {
        kernel_end = TRY(load_elf(memory, image, *kernel.elf));
        setup.entry = mode == EntryMode::Pvh32 ? *kernel.pvh_entry : *kernel.elf->entry_physical;
    }
    TRY(write_cmdline(memory, options.cmdline, cmdline_maximum));

    std::optional<InitrdPlacement> initrd;
    if (options.initrd) {
        initrd = TRY(place_initrd(memory, *options.initrd, kernel_end, initrd_limit));
    }
    std::vector<MemoryMapEntry> memory_map = guest_memory_map(memory);
    if (mode == EntryMode::Linux64) {
        ZeroPageContents contents{layout::kCmdline, initrd, options.rsdp, std::move(memory_map)};
        auto params = TRY(build_zero_page(kernel.bzimage, contents));
        TRY(memory.write_object(layout::kZeroPage, params));
        setup.boot_info = layout::kZeroPage;
    } else {
        PvhContents contents{layout::kCmdline, initrd, options.rsdp, std::move(memory_map)};
        setup.boot_info = TRY(write_pvh_start_info(memory, contents));
    }
    return setup;
}

std::string describe(const BootSetup& setup) {
    if (setup.mode == EntryMode::Pvh32) {
        return fmt::format("PVH 32-bit entry {:#x}, hvm_start_info at {:#x}", setup.entry.value(),
                           setup.boot_info.value());
    }
    return fmt::format("Linux 64-bit entry {:#x}, boot_params at {:#x}", setup.entry.value(), setup.boot_info.value());
}

}  // namespace skiff::boot
