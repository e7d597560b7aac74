#include "edu.h"

#include "console.h"
#include "io.h"
#include "pci.h"
#include "x86.h"

#include <stdbool.h>
#include <stdint.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

// Registers of BAR 0 (QEMU's docs/specs/edu.rst).
#define EDU_ID 0x00
#define EDU_LIVENESS 0x04  // reads back the bitwise inverse of what was written
#define EDU_INTERRUPT_STATUS 0x24
#define EDU_INTERRUPT_RAISE 0x60
#define EDU_INTERRUPT_ACK 0x64
#define EDU_DMA_SOURCE 0x80
#define EDU_DMA_DESTINATION 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_COMMAND 0x98
#define EDU_DMA_START 1u
#define EDU_DMA_TO_RAM 2u
#define EDU_DMA_BUFFER 0x40000  // the device's own 4 KiB buffer, as a DMA address

#define PCI_CAPABILITY_MSI 0x05
#define MSI_CONTROL 2
#define MSI_ADDRESS_LOW 4
#define MSI_ADDRESS_HIGH 8
#define MSI_DATA_64 12
#define MSI_CONTROL_ENABLE 0x0001
#define MSI_CONTROL_64BIT 0x0080

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_SPURIOUS 0xf0
#define LAPIC_IRR 0x200
#define EDU_MSI_VECTOR 0x41

// The device DMAs into these (identity-mapped, so virtual = physical, and
// below the edu's 28-bit DMA limit: the test guest lives in the first MiB).
static uint8_t dma_out[64] __attribute__((aligned(64)));
static volatile uint8_t dma_in[64] __attribute__((aligned(64)));

// Waits for `done` at most roughly a few seconds of TSC ticks.
static bool wait_for(bool (*done)(uint64_t), uint64_t bar) {
    const uint64_t start = read_tsc();
    while (read_tsc() - start < (1ull << 34)) {
        if (done(bar)) {
            return true;
        }
        __asm__ volatile("pause");
    }
    return false;
}

static bool dma_idle(uint64_t bar) { return (mmio_read32(bar + EDU_DMA_COMMAND) & EDU_DMA_START) == 0; }

static bool dma(uint64_t bar, uint64_t source, uint64_t destination, uint32_t command) {
    mmio_write64(bar + EDU_DMA_SOURCE, source);
    mmio_write64(bar + EDU_DMA_DESTINATION, destination);
    mmio_write64(bar + EDU_DMA_COUNT, sizeof(dma_out));
    mmio_write64(bar + EDU_DMA_COMMAND, EDU_DMA_START | command);
    return wait_for(dma_idle, bar);
}

static bool msi_pending(uint64_t bar) {
    (void)bar;
    uint32_t word = mmio_read32(LAPIC_BASE + LAPIC_IRR + (EDU_MSI_VECTOR / 32) * 0x10);
    return (word >> (EDU_MSI_VECTOR % 32)) & 1;
}

static uint8_t find_capability(struct pci_function function, uint8_t id) {
    if ((pci_read16(function, PCI_STATUS) & PCI_STATUS_CAPABILITIES) == 0) {
        return 0;
    }
    uint8_t offset = pci_read8(function, PCI_CAPABILITIES_POINTER) & 0xfc;
    for (unsigned hops = 0; offset != 0 && hops < 48; ++hops) {
        if (pci_read8(function, offset) == id) {
            return offset;
        }
        offset = pci_read8(function, offset + 1) & 0xfc;
    }
    return 0;
}

static bool check_msi(struct pci_function function, uint64_t bar) {
    uint8_t msi = find_capability(function, PCI_CAPABILITY_MSI);
    if (msi == 0) {
        console_printf("skiff-testguest: edu msi=FAILED no MSI capability\n");
        return false;
    }
    // Interrupts stay off (IOPL 3 allows cli here): the vector only has to
    // become pending in the local APIC, which must be software-enabled.
    __asm__ volatile("cli");
    mmio_write32(LAPIC_BASE + LAPIC_SPURIOUS, mmio_read32(LAPIC_BASE + LAPIC_SPURIOUS) | 0x1ff);
    uint16_t control = pci_read16(function, msi + MSI_CONTROL);
    pci_write32(function, msi + MSI_ADDRESS_LOW, (uint32_t)LAPIC_BASE);  // destination APIC 0
    uint8_t data_offset = MSI_ADDRESS_HIGH;
    if (control & MSI_CONTROL_64BIT) {
        pci_write32(function, msi + MSI_ADDRESS_HIGH, 0);
        data_offset = MSI_DATA_64;
    }
    pci_write16(function, msi + data_offset, EDU_MSI_VECTOR);  // fixed delivery, edge
    pci_write16(function, msi + MSI_CONTROL, (uint16_t)((control & ~0x0070) | MSI_CONTROL_ENABLE));
    if (msi_pending(bar)) {
        console_printf("skiff-testguest: edu msi=FAILED vector pending before the device raised it\n");
        return false;
    }
    mmio_write32(bar + EDU_INTERRUPT_RAISE, 1);
    if (!wait_for(msi_pending, bar)) {
        console_printf("skiff-testguest: edu msi=FAILED vector %#x never pending (status %#x)\n", EDU_MSI_VECTOR,
                       mmio_read32(bar + EDU_INTERRUPT_STATUS));
        return false;
    }
    mmio_write32(bar + EDU_INTERRUPT_ACK, 1);
    console_printf("skiff-testguest: edu msi=ok vector=%#x\n", EDU_MSI_VECTOR);
    return true;
}

void edu_run(void) {
    struct pci_function function;
    if (pci_find(EDU_VENDOR, EDU_DEVICE, &function, 1) == 0) {
        console_printf("skiff-testguest: edu found=FAILED no 1234:11e8 on bus 0\n");
        return;
    }
    bool placed = false;
    uint64_t bar = pci_memory_bar(function, 0, false, &placed);
    console_printf("skiff-testguest: edu found %02x:%02x.%x bar0=%#lx%s\n", function.bus, function.slot,
                   function.function, bar, placed ? " (placed by the guest)" : "");
    if (bar == 0) {
        return;
    }
    pci_write16(function, PCI_COMMAND,
                pci_read16(function, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);

    uint32_t id = mmio_read32(bar + EDU_ID);
    console_printf("skiff-testguest: edu id=%#x\n", id);
    mmio_write32(bar + EDU_LIVENESS, 0x12345678);
    uint32_t inverse = mmio_read32(bar + EDU_LIVENESS);
    if (inverse != ~0x12345678u) {
        console_printf("skiff-testguest: edu liveness=FAILED read %#x\n", inverse);
        return;
    }
    console_printf("skiff-testguest: edu liveness=ok\n");

    for (unsigned i = 0; i < sizeof(dma_out); ++i) {
        dma_out[i] = (uint8_t)(i * 7 + 3);
        dma_in[i] = 0;
    }
    if (!dma(bar, (uint64_t)(uintptr_t)dma_out, EDU_DMA_BUFFER, 0) ||
        !dma(bar, EDU_DMA_BUFFER, (uint64_t)(uintptr_t)dma_in, EDU_DMA_TO_RAM)) {
        console_printf("skiff-testguest: edu dma=FAILED the transfer did not finish\n");
        return;
    }
    for (unsigned i = 0; i < sizeof(dma_out); ++i) {
        if (dma_in[i] != dma_out[i]) {
            console_printf("skiff-testguest: edu dma=FAILED byte %u is %#x, wanted %#x\n", i, dma_in[i], dma_out[i]);
            return;
        }
    }
    console_printf("skiff-testguest: edu dma=ok (%u bytes to the device and back)\n", (unsigned)sizeof(dma_out));
    check_msi(function, bar);
}
