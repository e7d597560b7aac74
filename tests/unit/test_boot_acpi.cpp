#include "boot/acpi.h"
#include "boot/acpi_tables.h"
#include "boot/image_bytes.h"
#include "boot/layout.h"
#include "test_boot_images.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>

using namespace skiff;
using namespace skiff::boot;
using namespace skiff::boot::testing;

namespace {

constexpr uint64_t kAreaStart = 0xe0000;
constexpr uint64_t kAreaEnd = 0x100000;

// A table read back and checked: signature, length inside the BIOS area,
// checksum over `length` bytes.
Image read_table(const GuestMemory& memory, uint64_t address, const char* signature) {
    INFO("table " << signature << " at " << std::hex << address);
    REQUIRE(address >= kAreaStart);
    auto header = memory.read_object<acpi::TableHeader>(GuestAddress(address));
    REQUIRE(header.ok());
    CHECK(std::memcmp(header->signature, signature, 4) == 0);
    REQUIRE(header->length >= sizeof(acpi::TableHeader));
    REQUIRE(address + header->length <= kAreaEnd);
    Image bytes(header->length);
    REQUIRE(memory.read(GuestAddress(address), bytes).ok());
    CHECK(byte_sum(bytes) == 0);
    CHECK(std::memcmp(header->oem_id, "SKIFF ", 6) == 0);
    return bytes;
}

struct ParsedAcpi {
    uint64_t rsdp = 0;
    std::map<std::string, Image> tables;  // by signature
    std::map<std::string, uint64_t> addresses;
};

// Finds the RSDP as Linux's acpi_find_root_pointer() does in the BIOS area
// (16-byte steps from 0xe0000, signature then checksums), then follows the
// XSDT and the FADT's X_DSDT.
ParsedAcpi parse(const GuestMemory& memory) {
    ParsedAcpi parsed;
    for (uint64_t address = kAreaStart; address < kAreaEnd; address += 16) {
        Image signature(8);
        REQUIRE(memory.read(GuestAddress(address), signature).ok());
        if (std::memcmp(signature.data(), "RSD PTR ", 8) != 0) {
            continue;
        }
        Image v1(acpi::kRsdpV1Length);
        REQUIRE(memory.read(GuestAddress(address), v1).ok());
        if (byte_sum(v1) == 0) {
            parsed.rsdp = address;
            break;
        }
    }
    REQUIRE(parsed.rsdp != 0);
    auto rsdp = memory.read_object<acpi::Rsdp>(GuestAddress(parsed.rsdp));
    REQUIRE(rsdp.ok());
    CHECK(rsdp->revision == 2);
    CHECK(rsdp->length == sizeof(acpi::Rsdp));
    Image full(sizeof(acpi::Rsdp));
    REQUIRE(memory.read(GuestAddress(parsed.rsdp), full).ok());
    CHECK(byte_sum(full) == 0);

    Image xsdt = read_table(memory, rsdp->xsdt_address, "XSDT");
    parsed.tables["XSDT"] = xsdt;
    parsed.addresses["XSDT"] = rsdp->xsdt_address;
    for (uint64_t offset = sizeof(acpi::TableHeader); offset + 8 <= xsdt.size(); offset += 8) {
        const auto address = get<uint64_t>(xsdt, offset);
        auto header = memory.read_object<acpi::TableHeader>(GuestAddress(address));
        REQUIRE(header.ok());
        std::string signature(header->signature, 4);
        parsed.tables[signature] = read_table(memory, address, signature.c_str());
        parsed.addresses[signature] = address;
    }
    REQUIRE(parsed.tables.count("FACP") == 1);
    const auto fadt = get<acpi::Fadt>(parsed.tables["FACP"], 0);
    parsed.tables["DSDT"] = read_table(memory, fadt.x_dsdt, "DSDT");
    parsed.addresses["DSDT"] = fadt.x_dsdt;
    return parsed;
}

struct MadtSummary {
    std::vector<acpi::MadtLocalApic> local_apics;
    std::vector<acpi::MadtIoApic> ioapics;
    std::vector<acpi::MadtInterruptOverride> overrides;
    std::vector<acpi::MadtLocalApicNmi> nmis;
};

MadtSummary walk_madt(const Image& madt) {
    MadtSummary summary;
    uint64_t offset = sizeof(acpi::MadtHeader);
    while (offset < madt.size()) {
        REQUIRE(offset + 2 <= madt.size());
        const auto type = static_cast<uint8_t>(madt[offset]);
        const auto length = static_cast<uint8_t>(madt[offset + 1]);
        REQUIRE(length >= 2);
        REQUIRE(offset + length <= madt.size());
        switch (type) {
            case acpi::LocalApic:
                REQUIRE(length == sizeof(acpi::MadtLocalApic));
                summary.local_apics.push_back(get<acpi::MadtLocalApic>(madt, offset));
                break;
            case acpi::IoApic:
                REQUIRE(length == sizeof(acpi::MadtIoApic));
                summary.ioapics.push_back(get<acpi::MadtIoApic>(madt, offset));
                break;
            case acpi::InterruptOverride:
                REQUIRE(length == sizeof(acpi::MadtInterruptOverride));
                summary.overrides.push_back(get<acpi::MadtInterruptOverride>(madt, offset));
                break;
            case acpi::LocalApicNmi:
                REQUIRE(length == sizeof(acpi::MadtLocalApicNmi));
                summary.nmis.push_back(get<acpi::MadtLocalApicNmi>(madt, offset));
                break;
            default: FAIL("unexpected MADT entry type " << int(type));
        }
        offset += length;
    }
    CHECK(offset == madt.size());
    return summary;
}

bool has_bytes(const std::vector<uint8_t>& haystack, const std::vector<uint8_t>& part) {
    return std::search(haystack.begin(), haystack.end(), part.begin(), part.end()) != haystack.end();
}

}  // namespace

TEST_CASE("ACPI tables parse like a guest parses them", "[boot]") {
    const uint32_t cpu_count = GENERATE(1u, 4u, 254u);
    GuestMemory memory = make_memory(4 * 1024 * 1024);
    AcpiConfig config;
    config.cpu_count = cpu_count;
    config.virtio_mmio_devices = {{GuestAddress(0xd0001000), 0x1000, 5}, {GuestAddress(0xd0002000), 0x1000, 6}};
    auto rsdp = write_acpi_tables(memory, config);
    REQUIRE(rsdp.ok());
    CHECK(*rsdp == layout::kBiosRom);

    ParsedAcpi parsed = parse(memory);
    CHECK(parsed.rsdp == rsdp->value());
    CHECK(parsed.tables.size() == 4);  // XSDT, FACP, APIC, DSDT
    for (const auto& [signature, address] : parsed.addresses) {
        CHECK(address % 16 == 0);
    }

    const auto fadt = get<acpi::Fadt>(parsed.tables["FACP"], 0);
    CHECK(fadt.header.revision == 6);
    CHECK(fadt.header.length == 276);
    CHECK((fadt.flags & acpi::kFadtHardwareReduced) != 0);
    CHECK((fadt.iapc_boot_arch & acpi::kBootArchVgaNotPresent) != 0);
    CHECK((fadt.iapc_boot_arch & acpi::kBootArchMsiNotSupported) == 0);
    CHECK(fadt.dsdt == 0);
    CHECK(fadt.x_dsdt == parsed.addresses["DSDT"]);

    const Image& dsdt = parsed.tables["DSDT"];
    CHECK(get<acpi::TableHeader>(dsdt, 0).revision == 2);
    auto definitions = dsdt_definitions(config);
    REQUIRE(definitions.ok());
    Image expected_body(definitions->size());
    std::memcpy(expected_body.data(), definitions->data(), definitions->size());
    CHECK(Image(dsdt.begin() + sizeof(acpi::TableHeader), dsdt.end()) == expected_body);
    // A scope, then the two devices with their _HID strings.
    CHECK(static_cast<uint8_t>(dsdt[sizeof(acpi::TableHeader)]) == 0x10);
    std::string text(reinterpret_cast<const char*>(dsdt.data()), dsdt.size());
    CHECK(text.find("V000") != std::string::npos);
    CHECK(text.find("V001") != std::string::npos);
    CHECK(text.find("LNRO0005") != std::string::npos);

    const Image& madt_bytes = parsed.tables["APIC"];
    const auto madt = get<acpi::MadtHeader>(madt_bytes, 0);
    CHECK(madt.local_apic_address == layout::kLocalApic.value());
    CHECK((madt.flags & acpi::kMadtPcatCompat) != 0);
    MadtSummary summary = walk_madt(madt_bytes);
    REQUIRE(summary.local_apics.size() == cpu_count);
    for (uint32_t index = 0; index < cpu_count; ++index) {
        CHECK(summary.local_apics[index].apic_id == index);
        CHECK(summary.local_apics[index].processor_uid == index);
        CHECK(summary.local_apics[index].flags == acpi::kLocalApicEnabled);
    }
    REQUIRE(summary.ioapics.size() == 1);
    CHECK(summary.ioapics[0].io_apic_id == cpu_count);
    CHECK(summary.ioapics[0].address == layout::kIoapic.value());
    CHECK(summary.ioapics[0].gsi_base == 0);
    REQUIRE(summary.overrides.size() == 1);
    CHECK(summary.overrides[0].bus == 0);
    CHECK(summary.overrides[0].source == 0);
    CHECK(summary.overrides[0].gsi == 2);
    REQUIRE(summary.nmis.size() == 1);
    CHECK(summary.nmis[0].lint == 1);
    CHECK(summary.nmis[0].processor_uid == 0xff);
}

TEST_CASE("the DSDT without devices is an empty \\_SB scope", "[boot]") {
    auto definitions = dsdt_definitions(AcpiConfig{});
    REQUIRE(definitions.ok());
    CHECK(*definitions == std::vector<uint8_t>{0x10, 0x06, 0x5c, '_', 'S', 'B', '_'});
}

TEST_CASE("the DSDT names the i8042 keyboard when asked to", "[boot]") {
    AcpiConfig config;
    config.ps2_keyboard = true;
    auto definitions = dsdt_definitions(config);
    REQUIRE(definitions.ok());
    auto contains = [&](const std::vector<uint8_t>& part) { return has_bytes(*definitions, part); };
    // Device (PS2K) { Name (_HID, EisaId ("PNP0303")) Name (_CRS, ResourceTemplate () {
    //   IO (Decode16, 0x60, 0x60, 1, 1) IO (Decode16, 0x64, 0x64, 1, 1) Interrupt (..., Edge, ActiveHigh) {1} }) }
    CHECK(contains({0x5b, 0x82}));
    CHECK(contains({'P', 'S', '2', 'K', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03}));
    CHECK(contains({0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,
                    0x89, 0x06, 0x00, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x79, 0x00}));
    // Device (PS2M) { Name (_HID, EisaId ("PNP0F13")) Name (_CRS, ResourceTemplate () {
    //   Interrupt (..., Edge, ActiveHigh, Exclusive) {12} }) }: the second port
    CHECK(contains({'P', 'S', '2', 'M', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0f, 0x13}));
    CHECK(contains({0x89, 0x06, 0x00, 0x03, 0x01, 0x0c, 0x00, 0x00, 0x00, 0x79, 0x00}));
    // Off by default: no device at all.
    CHECK(*dsdt_definitions(AcpiConfig{}) == std::vector<uint8_t>{0x10, 0x06, 0x5c, '_', 'S', 'B', '_'});
}

TEST_CASE("virtio-mmio slots take IRQs 5 to 21, never the i8042's 1 and 12 or COM1's 4", "[boot]") {
    std::vector<uint32_t> irqs;
    for (uint32_t slot = 0; slot < skiff::layout::kVirtioMmioSlots; ++slot) {
        irqs.push_back(skiff::layout::virtio_mmio_irq(slot));
    }
    CHECK(irqs == std::vector<uint32_t>{5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21});
}

TEST_CASE("the DSDT names COM1 with its ports and IRQ 4 when asked to", "[boot]") {
    AcpiConfig config;
    config.com1 = true;
    auto definitions = dsdt_definitions(config);
    REQUIRE(definitions.ok());
    auto contains = [&](const std::vector<uint8_t>& part) { return has_bytes(*definitions, part); };
    // Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, One) Name (_CRS, ResourceTemplate () {
    //   IO (Decode16, 0x3F8, 0x3F8, 1, 8) Interrupt (..., Edge, ActiveHigh, Exclusive) {4} }) }
    CHECK(contains({'C', 'O', 'M', '1', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01}));
    CHECK(contains({0x08, '_', 'U', 'I', 'D', 0x01}));
    CHECK(contains({0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,  //
                    0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x79, 0x00}));
}

TEST_CASE("the DSDT names a PCI host bridge for bus 0 when there is a PCI bus", "[boot]") {
    AcpiConfig config;
    config.pci_host_bridge = AcpiPciHostBridge{
        .config_port = 0xcf8, .config_port_count = 8, .window = GuestAddress(0xc0000000), .window_size = 0x10000000};
    auto definitions = dsdt_definitions(config);
    REQUIRE(definitions.ok());
    auto contains = [&](const std::vector<uint8_t>& part) { return has_bytes(*definitions, part); };
    // Device (PCI0) { Name (_HID, EisaId ("PNP0A03")) Name (_UID, Zero) Name (_SEG, Zero) Name (_BBN, Zero)
    //   Name (_CRS, ResourceTemplate () { WordBusNumber (0..0), IO (Decode16, 0xCF8, 0xCF8, 1, 8),
    //   DWordMemory (0xC0000000..0xCFFFFFFF) }) }
    CHECK(contains({'P', 'C', 'I', '0', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,  //
                    0x08, '_', 'U', 'I', 'D', 0x00, 0x08, '_', 'S', 'E', 'G', 0x00, 0x08, '_', 'B', 'B', 'N', 0x00}));
    CHECK(contains({0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
                    0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,  //
                    0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
                    0xff, 0xff, 0xff, 0xcf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x79, 0x00}));
    // A window that leaves the 32-bit space cannot be a DWordMemory.
    config.pci_host_bridge->window = GuestAddress(0xfff00000);
    CHECK_FALSE(dsdt_definitions(config).ok());
    config.pci_host_bridge->window = GuestAddress(0xc0000000);
    config.pci_host_bridge->window_size = 0;
    CHECK_FALSE(dsdt_definitions(config).ok());
}

TEST_CASE("ACPI power-off: FADT sleep registers and \\_S5 in the DSDT", "[boot]") {
    GuestMemory memory = make_memory(4 * 1024 * 1024);
    AcpiConfig config;
    REQUIRE(write_acpi_tables(memory, config).ok());
    // Without sleep registers: none in the FADT, no \_S5.
    CHECK(get<acpi::Fadt>(parse(memory).tables["FACP"], 0).sleep_control_register.address == 0);
    CHECK(dsdt_definitions(config)->size() == 7);

    config.sleep_registers = AcpiSleepRegisters{.control_port = 0x600, .status_port = 0x601, .soft_off_type = 5};
    REQUIRE(write_acpi_tables(memory, config).ok());
    const auto fadt = get<acpi::Fadt>(parse(memory).tables["FACP"], 0);
    for (const acpi::GenericAddress& reg : {fadt.sleep_control_register, fadt.sleep_status_register}) {
        CHECK(reg.address_space == 1);  // SystemIO
        CHECK(reg.bit_width == 8);
        CHECK(reg.bit_offset == 0);
        CHECK(reg.access_size == 1);  // byte
    }
    CHECK(fadt.sleep_control_register.address == 0x600);
    CHECK(fadt.sleep_status_register.address == 0x601);
    // iasl: Name (\_S5, Package (0x02) { 0x05, Zero }) = 08 5C 5F 53 35 5F 12 05 02 0A 05 00
    auto definitions = dsdt_definitions(config);
    REQUIRE(definitions.ok());
    const std::vector<uint8_t> s5{0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0a, 0x05, 0x00};
    CHECK(has_bytes(*definitions, s5));
}

TEST_CASE("write_acpi_tables rejects what it cannot describe", "[boot]") {
    GuestMemory memory = make_memory(4 * 1024 * 1024);
    AcpiConfig config;
    for (uint32_t count : {0u, 255u}) {
        config.cpu_count = count;
        auto result = write_acpi_tables(memory, config);
        REQUIRE_FALSE(result.ok());
        CHECK(one_line(result.error().message));
    }
    config.cpu_count = 1;
    config.virtio_mmio_devices = {{GuestAddress(0xfffff000), 0x2000, 5}};
    CHECK_THAT(write_acpi_tables(memory, config).error().message, Catch::Contains("32-bit"));
    config.virtio_mmio_devices.assign(3000, AcpiMmioDevice{GuestAddress(0xd0001000), 0x1000, 5});
    CHECK_THAT(write_acpi_tables(memory, config).error().message, Catch::Contains("do not fit"));

    auto no_bios_area = GuestMemory::create({{GuestAddress(0), 0x80000}});
    REQUIRE(no_bios_area.ok());
    CHECK_FALSE(write_acpi_tables(*no_bios_area, AcpiConfig{}).ok());
}

namespace {

// The DSDT's devices decoded as an OS reads them: Scope(\_SB) holding
// Device()s whose _HID, _UID and _CRS are named data objects; _CRS resources
// decoded as Linux's acpi_dev_resource_memory() and
// acpi_dev_resource_interrupt() do.
struct DecodedMmioDevice {
    std::string name;
    std::string hid;
    uint64_t uid = UINT64_MAX;
    uint32_t memory_base = 0;
    uint32_t memory_length = 0;
    bool memory_writable = false;
    std::vector<uint32_t> interrupts;
    uint8_t interrupt_flags = 0;
    bool end_tag = false;
};

class AmlReader {
public:
    explicit AmlReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
    [[nodiscard]] size_t position() const { return position_; }
    [[nodiscard]] bool at(size_t end) const { return position_ >= end; }
    uint8_t byte() {
        REQUIRE(position_ < bytes_.size());
        return bytes_[position_++];
    }
    uint64_t little_endian(size_t size) {
        uint64_t value = 0;
        for (size_t index = 0; index < size; ++index) {
            value |= uint64_t{byte()} << (8 * index);
        }
        return value;
    }
    // Returns the end of the package (PkgLength counts its own bytes).
    size_t package_end() {
        const size_t start = position_;
        const uint8_t lead = byte();
        const unsigned follow = lead >> 6;
        uint64_t length = follow == 0 ? lead & 0x3f : lead & 0x0f;
        for (unsigned index = 0; index < follow; ++index) {
            length |= uint64_t{byte()} << (4 + 8 * index);
        }
        REQUIRE(start + length <= bytes_.size());
        return start + length;
    }
    std::string name_segment() {
        std::string name;
        for (int index = 0; index < 4; ++index) {
            name.push_back(static_cast<char>(byte()));
        }
        return name;
    }
    uint64_t integer() {
        switch (byte()) {
            case 0x00: return 0;
            case 0x01: return 1;
            case 0x0a: return little_endian(1);
            case 0x0b: return little_endian(2);
            case 0x0c: return little_endian(4);
            case 0x0e: return little_endian(8);
            default: FAIL("not an AML integer"); return 0;
        }
    }
    std::string string() {
        REQUIRE(byte() == 0x0d);
        std::string text;
        for (uint8_t c = byte(); c != 0; c = byte()) {
            text.push_back(static_cast<char>(c));
        }
        return text;
    }
    std::vector<uint8_t> buffer() {
        REQUIRE(byte() == 0x11);
        const size_t end = package_end();
        const uint64_t size = integer();
        REQUIRE(position_ + size == end);
        std::vector<uint8_t> data(bytes_.begin() + static_cast<long>(position_),
                                  bytes_.begin() + static_cast<long>(end));
        position_ = end;
        return data;
    }

private:
    const std::vector<uint8_t>& bytes_;
    size_t position_ = 0;
};

void decode_resources(const std::vector<uint8_t>& resources, DecodedMmioDevice& device) {
    size_t offset = 0;
    while (offset < resources.size()) {
        const uint8_t tag = resources[offset];
        if ((tag & 0x80) == 0) {
            // Small item: only the End Tag (type 0xf, length 1) is expected.
            REQUIRE(tag == 0x79);
            REQUIRE(offset + 2 == resources.size());
            device.end_tag = true;
            return;
        }
        REQUIRE(offset + 3 <= resources.size());
        const size_t length = resources[offset + 1] | (size_t{resources[offset + 2]} << 8);
        const size_t data = offset + 3;
        REQUIRE(data + length <= resources.size());
        auto u32 = [&](size_t at) {
            uint32_t value = 0;
            std::memcpy(&value, resources.data() + at, sizeof(value));
            return value;
        };
        switch (tag & 0x7f) {
            case 0x06:  // Memory32Fixed: info, base, length
                REQUIRE(length == 9);
                device.memory_writable = (resources[data] & 1) != 0;
                device.memory_base = u32(data + 1);
                device.memory_length = u32(data + 5);
                break;
            case 0x09: {  // Extended Interrupt: flags, count, interrupts
                REQUIRE(length >= 2);
                device.interrupt_flags = resources[data];
                const size_t count = resources[data + 1];
                REQUIRE(length == 2 + 4 * count);
                for (size_t index = 0; index < count; ++index) {
                    device.interrupts.push_back(u32(data + 2 + 4 * index));
                }
                break;
            }
            default: FAIL("unexpected resource type " << int(tag & 0x7f));
        }
        offset = data + length;
    }
}

std::vector<DecodedMmioDevice> decode_dsdt_devices(const std::vector<uint8_t>& definitions) {
    AmlReader reader(definitions);
    REQUIRE(reader.byte() == 0x10);  // ScopeOp
    const size_t scope_end = reader.package_end();
    REQUIRE(reader.byte() == '\\');
    REQUIRE(reader.name_segment() == "_SB_");
    std::vector<DecodedMmioDevice> devices;
    while (!reader.at(scope_end)) {
        REQUIRE(reader.byte() == 0x5b);  // ExtOpPrefix
        REQUIRE(reader.byte() == 0x82);  // DeviceOp
        const size_t device_end = reader.package_end();
        DecodedMmioDevice device;
        device.name = reader.name_segment();
        while (!reader.at(device_end)) {
            REQUIRE(reader.byte() == 0x08);  // NameOp
            const std::string name = reader.name_segment();
            if (name == "_HID") {
                device.hid = reader.string();
            } else if (name == "_UID") {
                device.uid = reader.integer();
            } else if (name == "_CRS") {
                decode_resources(reader.buffer(), device);
            } else {
                FAIL("unexpected object " << name);
            }
        }
        REQUIRE(reader.position() == device_end);
        devices.push_back(device);
    }
    REQUIRE(reader.position() == definitions.size());
    return devices;
}

}  // namespace

TEST_CASE("DSDT virtio-mmio devices decode as Linux's virtio_mmio ACPI match expects", "[boot]") {
    AcpiConfig config;
    config.virtio_mmio_devices = {{GuestAddress(0xd0001000), 0x1000, 5},
                                  {GuestAddress(0xd0002000), 0x1000, 6},
                                  {GuestAddress(0xfebff000), 0x200, 23}};
    auto definitions = dsdt_definitions(config);
    REQUIRE(definitions.ok());
    const std::vector<DecodedMmioDevice> devices = decode_dsdt_devices(*definitions);
    REQUIRE(devices.size() == config.virtio_mmio_devices.size());
    for (size_t index = 0; index < devices.size(); ++index) {
        INFO("device " << index);
        const DecodedMmioDevice& device = devices[index];
        const AcpiMmioDevice& expected = config.virtio_mmio_devices[index];
        CHECK(device.name == fmt::format("V{:03X}", index));
        // drivers/virtio/virtio_mmio.c: virtio_mmio_acpi_match = {"LNRO0005"},
        // a _HID string (not an EISA ID: four letters).
        CHECK(device.hid == "LNRO0005");
        CHECK(device.uid == index);
        // platform_get_resource(IORESOURCE_MEM, 0): the register window.
        CHECK(device.memory_base == expected.base.value());
        CHECK(device.memory_length == expected.size);
        CHECK(device.memory_writable);
        // platform_get_irq(0): one interrupt, consumed, edge, active high,
        // exclusive (flags bit 0 consumer, bit 1 edge, bit 2 active low,
        // bit 3 shared) - what KVM's irqfd delivers: one edge per signal.
        REQUIRE(device.interrupts == std::vector<uint32_t>{expected.irq});
        CHECK(device.interrupt_flags == 0x03);
        CHECK(device.end_tag);
    }
}
