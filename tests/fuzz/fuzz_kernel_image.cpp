// fuzz_kernel_image: arbitrary bytes as the kernel image, through the same
// entry skiff's Machine::build uses: boot::inspect_kernel (format detection,
// then the bzImage checks of boot/bzimage.cpp or the ELF32/ELF64 and
// PVH-note checks of boot/elf_kernel.cpp), then boot::load_kernel into a
// guest memory of 8 MiB (kernel copy, command line, initrd placement, zero page or
// hvm_start_info), then the initial registers for the entry. Whatever the
// bytes, skiff must reject the image with a one-line message or load it
// without touching host memory outside guest memory (guard pages on both
// sides, ASan and UBSan for the rest); a loaded image's boot information
// lies in guest memory.
//
// Input:
//   byte 0     bits 0-1 boot protocol (0 and 3 auto, 1 PVH, 2 Linux 64-bit),
//              bit 2 an initrd, bit 3 an RSDP address, bits 4-7 command
//              line length in 64-byte units (0 to 960 bytes)
//   byte 1     initrd size in 256-byte units, plus one
//   then       the kernel image
#include "boot/cpu_state.h"
#include "boot/kernel_image.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "tests/fuzz/fuzz_memory.h"
#include "tests/fuzz/fuzz_support.h"

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

using namespace skiff;

namespace {

constexpr GuestAddress kMemoryStart(0);
constexpr uint64_t kMemorySize = 8 * 1024 * 1024;

const GuestMemory& memory() {
    static const GuestMemory instance = fuzz::make_guarded_memory(kMemoryStart, kMemorySize);
    return instance;
}

bool one_line(const std::string& message) { return !message.empty() && message.find('\n') == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz::init_logging();
    (void)memory();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input input(data, size);
    const uint8_t flags = input.byte();
    const uint8_t initrd_units = input.byte();
    const auto image = std::as_bytes(input.rest());

    auto kernel = boot::inspect_kernel(image);
    if (!kernel.ok()) {
        spdlog::debug("fuzz: rejected: {}", kernel.error().message);
        FUZZ_CHECK(one_line(kernel.error().message));
        return 0;
    }
    FUZZ_CHECK(one_line(boot::describe(*kernel)));

    constexpr std::array kProtocols{boot::BootProtocol::Auto, boot::BootProtocol::Pvh, boot::BootProtocol::Linux64,
                                    boot::BootProtocol::Auto};
    boot::BootOptions options;
    options.protocol = kProtocols[flags & 3];
    options.cmdline = std::string(size_t{64} * (flags >> 4), 'k');
    std::vector<std::byte> initrd((size_t{initrd_units} + 1) * 256, std::byte{0x5a});
    if ((flags & 4) != 0) {
        options.initrd = std::span<const std::byte>(initrd);
    }
    if ((flags & 8) != 0) {
        options.rsdp = layout::kBiosRom;
    }
    auto setup = boot::load_kernel(memory(), image, *kernel, options);
    spdlog::debug("fuzz: {}: {}", boot::describe(*kernel), setup.ok() ? boot::describe(*setup) : setup.error().message);
    if (!setup.ok()) {
        FUZZ_CHECK(one_line(setup.error().message));
        return 0;
    }
    FUZZ_CHECK(memory().contains(setup->boot_info, 1));
    FUZZ_CHECK(one_line(boot::describe(*setup)));
    kvm_regs registers{};
    kvm_sregs special{};
    boot::initial_registers(*setup, registers, special);
    return 0;
}
