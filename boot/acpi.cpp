// ACPI 6.5 tables; see acpi.h and acpi_tables.h.
#include "boot/acpi.h"

#include "boot/acpi_tables.h"
#include "boot/aml.h"
#include "boot/image_bytes.h"
#include "boot/layout.h"

#include <cstring>

namespace skiff::boot {

namespace {

constexpr uint32_t kMaxCpuCount = 254;
constexpr uint64_t kTableAlignment = 16;
// The RSDP is 36 bytes; the other tables start at the next 64-byte mark.
constexpr uint64_t kFirstTableOffset = 0x40;
static_assert(kFirstTableOffset >= sizeof(acpi::Rsdp));
constexpr uint8_t kDsdtRevision = 2;  // 2: AML integers are 64-bit
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorVersion = 5;  // ACPI 6.5
constexpr uint8_t kMadtRevision = 5;
constexpr uint8_t kXsdtRevision = 1;
constexpr uint8_t kRsdpRevision = 2;
constexpr uint8_t kAllProcessors = 0xff;
constexpr uint8_t kIsaBus = 0;
constexpr uint8_t kTimerIrq = 0;
constexpr uint32_t kTimerGsi = 2;
constexpr uint8_t kNmiLint = 1;
// No VGA; no CMOS RTC (skiff emulates none, so Linux should not probe one);
// MSI stays allowed (PCI MSI-X). No 8042 flag: the DSDT names the i8042
// when it is there (AcpiConfig::ps2_keyboard); without a DSDT device Linux
// leaves the i8042 to the reboot path (reboot=k) without probing it.
constexpr uint16_t kBootArchitecture = acpi::kBootArchVgaNotPresent | acpi::kBootArchCmosRtcNotPresent;
constexpr char kVirtioMmioHid[] = "LNRO0005";
constexpr char kPs2KeyboardHid[] = "PNP0303";  // IBM enhanced keyboard (101/102 keys)
constexpr char kPs2MouseHid[] = "PNP0F13";     // PS/2 port for a mouse
constexpr char kCom1Hid[] = "PNP0501";         // 16550A-compatible serial port
constexpr uint8_t kCom1PortCount = 8;
constexpr char kPciHostBridgeHid[] = "PNP0A03";  // PCI bus (conventional: conf1, no ECAM)

template <size_t N>
void copy_text(char (&field)[N], const char (&text)[N + 1]) {
    std::memcpy(field, text, N);
}

acpi::TableHeader table_header(const char (&signature)[5], uint8_t revision) {
    acpi::TableHeader header{};
    copy_text(header.signature, signature);
    header.revision = revision;
    copy_text(header.oem_id, "SKIFF ");
    copy_text(header.oem_table_id, "SKIFFVM ");
    header.oem_revision = 1;
    copy_text(header.creator_id, "SKIF");
    header.creator_revision = 1;
    return header;
}

// Sets the header's length and checksum once the table is complete.
void seal_table(std::vector<std::byte>& table) {
    const auto length = static_cast<uint32_t>(table.size());
    std::memcpy(table.data() + offsetof(acpi::TableHeader, length), &length, sizeof(length));
    table[offsetof(acpi::TableHeader, checksum)] = std::byte{0};
    table[offsetof(acpi::TableHeader, checksum)] = std::byte{checksum_for(table)};
}

// Tables go one after another, 16-byte aligned, inside the BIOS area.
class TableArea {
public:
    TableArea(const GuestMemory& memory, GuestAddress start, GuestAddress end)
        : memory_(memory), next_(start.value()), end_(end.value()) {}

    Result<GuestAddress> place(const std::vector<std::byte>& table) {
        const uint64_t address = (next_ + kTableAlignment - 1) & ~(kTableAlignment - 1);
        if (address > end_ || table.size() > end_ - address) {
            return Error::format("ACPI tables do not fit in the BIOS area ({:#x}-{:#x})", layout::kBiosRom.value(),
                                 end_);
        }
        TRY(memory_.write(GuestAddress(address), table).context_error("writing ACPI tables"));
        next_ = address + table.size();
        return GuestAddress(address);
    }

private:
    const GuestMemory& memory_;
    uint64_t next_;
    uint64_t end_;
};

Result<std::vector<std::byte>> build_dsdt(const AcpiConfig& config) {
    auto definitions = TRY(dsdt_definitions(config));
    std::vector<std::byte> table;
    append_object(table, table_header("DSDT", kDsdtRevision));
    for (uint8_t value : definitions) {
        table.push_back(std::byte{value});
    }
    seal_table(table);
    return table;
}

acpi::GenericAddress byte_port(uint16_t port) {
    acpi::GenericAddress address{};
    address.address_space = acpi::kAddressSpaceSystemIo;
    address.bit_width = 8;
    address.access_size = acpi::kAccessSizeByte;
    address.address = port;
    return address;
}

std::vector<std::byte> build_fadt(GuestAddress dsdt, const std::optional<AcpiSleepRegisters>& sleep) {
    acpi::Fadt fadt{};
    fadt.header = table_header("FACP", kFadtRevision);
    fadt.minor_version = kFadtMinorVersion;
    fadt.flags = acpi::kFadtHardwareReduced;
    fadt.iapc_boot_arch = kBootArchitecture;
    // X_DSDT only: ACPI says OSPM ignores DSDT when X_DSDT is set.
    fadt.x_dsdt = dsdt.value();
    if (sleep) {
        fadt.sleep_control_register = byte_port(sleep->control_port);
        fadt.sleep_status_register = byte_port(sleep->status_port);
    }
    std::memcpy(&fadt.hypervisor_vendor_identity, "SKIFFVMM", sizeof(fadt.hypervisor_vendor_identity));
    std::vector<std::byte> table;
    append_object(table, fadt);
    seal_table(table);
    return table;
}

std::vector<std::byte> build_madt(uint32_t cpu_count) {
    acpi::MadtHeader header{};
    header.header = table_header("APIC", kMadtRevision);
    header.local_apic_address = static_cast<uint32_t>(layout::kLocalApic.value());
    header.flags = acpi::kMadtPcatCompat;
    std::vector<std::byte> table;
    append_object(table, header);
    for (uint32_t index = 0; index < cpu_count; ++index) {
        acpi::MadtLocalApic local{};
        local.type = acpi::LocalApic;
        local.length = sizeof(local);
        local.processor_uid = static_cast<uint8_t>(index);
        local.apic_id = static_cast<uint8_t>(index);
        local.flags = acpi::kLocalApicEnabled;
        append_object(table, local);
    }
    acpi::MadtIoApic ioapic{};
    ioapic.type = acpi::IoApic;
    ioapic.length = sizeof(ioapic);
    ioapic.io_apic_id = static_cast<uint8_t>(cpu_count);
    ioapic.address = static_cast<uint32_t>(layout::kIoapic.value());
    ioapic.gsi_base = 0;
    append_object(table, ioapic);
    acpi::MadtInterruptOverride timer{};
    timer.type = acpi::InterruptOverride;
    timer.length = sizeof(timer);
    timer.bus = kIsaBus;
    timer.source = kTimerIrq;
    timer.gsi = kTimerGsi;
    append_object(table, timer);
    acpi::MadtLocalApicNmi nmi{};
    nmi.type = acpi::LocalApicNmi;
    nmi.length = sizeof(nmi);
    nmi.processor_uid = kAllProcessors;
    nmi.lint = kNmiLint;
    append_object(table, nmi);
    seal_table(table);
    return table;
}

std::vector<std::byte> build_xsdt(std::initializer_list<GuestAddress> tables) {
    std::vector<std::byte> table;
    append_object(table, table_header("XSDT", kXsdtRevision));
    for (GuestAddress address : tables) {
        append_object(table, address.value());
    }
    seal_table(table);
    return table;
}

acpi::Rsdp build_rsdp(GuestAddress xsdt) {
    acpi::Rsdp rsdp{};
    copy_text(rsdp.signature, "RSD PTR ");
    copy_text(rsdp.oem_id, "SKIFF ");
    rsdp.revision = kRsdpRevision;
    rsdp.length = sizeof(rsdp);
    rsdp.xsdt_address = xsdt.value();
    auto bytes = std::as_bytes(std::span(&rsdp, 1));
    rsdp.checksum = checksum_for(bytes.first(acpi::kRsdpV1Length));
    rsdp.extended_checksum = checksum_for(bytes);
    return rsdp;
}

// Segment 0, bus 0 only (skiff has no PCI bridges); no _PRT, as skiff
// offers no INTx (MSI and MSI-X only).
Result<void> describe_pci_host_bridge(const AcpiPciHostBridge& bridge, AmlBuilder& system_bus) {
    if (bridge.window_size == 0 || bridge.config_port_count == 0 ||
        !range_inside(bridge.window.value(), bridge.window_size, uint64_t{1} << 32)) {
        return Error::format("PCI window {:#x}+{:#x} is not inside the 32-bit address space", bridge.window.value(),
                             bridge.window_size);
    }
    ResourceTemplate resources;
    resources.word_bus_number(0, 0)
        .io(bridge.config_port, bridge.config_port_count)
        .dword_memory(static_cast<uint32_t>(bridge.window.value()), bridge.window_size);
    AmlBuilder body;
    body.hid(kPciHostBridgeHid).uid(0).name_integer("_SEG", 0).name_integer("_BBN", 0).crs(resources);
    system_bus.device("PCI0", body);
    return {};
}

}  // namespace

Result<std::vector<uint8_t>> dsdt_definitions(const AcpiConfig& config) {
    AmlBuilder system_bus;
    for (size_t index = 0; index < config.virtio_mmio_devices.size(); ++index) {
        const AcpiMmioDevice& device = config.virtio_mmio_devices[index];
        if (device.size == 0 || !range_inside(device.base.value(), device.size, uint64_t{1} << 32)) {
            return Error::format("virtio-mmio device {} at {:#x}+{:#x} is not inside the 32-bit address space", index,
                                 device.base.value(), device.size);
        }
        if (index > 0xfff) {
            return Error{"more than 4096 virtio-mmio devices"};
        }
        ResourceTemplate resources;
        resources.memory32_fixed(MemoryAccess::ReadWrite, static_cast<uint32_t>(device.base.value()), device.size)
            .interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh, InterruptSharing::Exclusive, device.irq);
        AmlBuilder body;
        body.hid(kVirtioMmioHid).uid(index).crs(resources);
        system_bus.device(fmt::format("V{:03X}", index), body);
    }
    if (config.ps2_keyboard) {
        ResourceTemplate resources;
        resources.io(layout::kI8042DataPort, 1)
            .io(layout::kI8042CommandPort, 1)
            .interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh, InterruptSharing::Exclusive,
                       layout::kI8042KeyboardIrq);
        AmlBuilder body;
        body.hid(kPs2KeyboardHid).crs(resources);
        system_bus.device("PS2K", body);
        ResourceTemplate mouse_resources;
        mouse_resources.interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh,
                                  InterruptSharing::Exclusive, layout::kI8042AuxIrq);
        AmlBuilder mouse;
        mouse.hid(kPs2MouseHid).crs(mouse_resources);
        system_bus.device("PS2M", mouse);
    }
    if (config.com1) {
        ResourceTemplate resources;
        resources.io(layout::kCom1Port, kCom1PortCount)
            .interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh, InterruptSharing::Exclusive,
                       layout::kCom1Irq);
        AmlBuilder body;
        body.hid(kCom1Hid).uid(1).crs(resources);
        system_bus.device("COM1", body);
    }
    if (config.pci_host_bridge) {
        TRY(describe_pci_host_bridge(*config.pci_host_bridge, system_bus));
    }
    AmlBuilder definitions;
    definitions.scope("\\_SB_", system_bus);
    if (config.sleep_registers) {
        // Package {SLP_TYPa, SLP_TYPb}: a hardware-reduced machine uses the first.
        definitions.name_package("\\_S5_", {config.sleep_registers->soft_off_type, 0});
    }
    return definitions.bytes();
}

Result<GuestAddress> write_acpi_tables(const GuestMemory& memory, const AcpiConfig& config) {
    if (config.cpu_count == 0 || config.cpu_count > kMaxCpuCount) {
        return Error::format("ACPI MADT: {} vCPUs (must be 1 to {})", config.cpu_count, kMaxCpuCount);
    }
    const GuestAddress area_end = layout::kBiosRom + layout::kBiosRomSize;
    TableArea area(memory, layout::kBiosRom + kFirstTableOffset, area_end);
    const std::vector<std::byte> dsdt_table = TRY(build_dsdt(config));
    const GuestAddress dsdt = TRY(area.place(dsdt_table));
    const GuestAddress fadt = TRY(area.place(build_fadt(dsdt, config.sleep_registers)));
    const GuestAddress madt = TRY(area.place(build_madt(config.cpu_count)));
    const GuestAddress xsdt = TRY(area.place(build_xsdt({fadt, madt})));
    TRY(memory.write_object(layout::kBiosRom, build_rsdp(xsdt)).context_error("writing the ACPI RSDP"));
    return layout::kBiosRom;
}

}  // namespace skiff::boot
