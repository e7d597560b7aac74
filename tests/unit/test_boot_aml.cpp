#include "boot/aml.h"

#include <catch2/catch.hpp>

using namespace skiff::boot;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes ok(const skiff::Result<Bytes>& result) {
    if (!result.ok()) {
        FAIL(result.error().message);
    }
    return *result;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& part : parts) {
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

}  // namespace

TEST_CASE("AML package lengths use the shortest encoding", "[boot]") {
    CHECK(ok(aml::package_length(0)) == Bytes{0x01});
    CHECK(ok(aml::package_length(62)) == Bytes{0x3f});
    // 63 content bytes + 2 length bytes = 0x41: lead 0x41 (1 byte follows,
    // low nibble 1), then 0x41 >> 4.
    CHECK(ok(aml::package_length(63)) == Bytes{0x41, 0x04});
    CHECK(ok(aml::package_length(0xffd)) == Bytes{0x4f, 0xff});
    CHECK(ok(aml::package_length(0xffe)) == Bytes{0x81, 0x00, 0x01});
    CHECK(ok(aml::package_length(0xffffc)) == Bytes{0x8f, 0xff, 0xff});
    CHECK(ok(aml::package_length(0xffffd)) == Bytes{0xc1, 0x00, 0x00, 0x01});
    CHECK(ok(aml::package_length(0xffffffb)) == Bytes{0xcf, 0xff, 0xff, 0xff});
    CHECK_FALSE(aml::package_length(0xffffffc).ok());
}

TEST_CASE("AML name strings", "[boot]") {
    CHECK(ok(aml::name_string("_SB")) == Bytes{'_', 'S', 'B', '_'});
    CHECK(ok(aml::name_string("\\_SB_.VR00")) == Bytes{0x5c, 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '0'});
    CHECK(ok(aml::name_string("\\A.B.C")) ==
          Bytes{0x5c, 0x2f, 0x03, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'});
    CHECK(ok(aml::name_string("^^FOO")) == Bytes{'^', '^', 'F', 'O', 'O', '_'});
    CHECK(ok(aml::name_string("\\")) == Bytes{0x5c, 0x00});
    CHECK(ok(aml::name_string("^")) == Bytes{'^', 0x00});
    for (const char* bad : {"", "1ABC", "ABCDE", "ab", "A..B", "A.", "\\^A", ".A"}) {
        INFO(bad);
        CHECK_FALSE(aml::name_string(bad).ok());
    }
}

TEST_CASE("AML integers use the shortest encoding", "[boot]") {
    CHECK(aml::integer(0) == Bytes{0x00});
    CHECK(aml::integer(1) == Bytes{0x01});
    CHECK(aml::integer(2) == Bytes{0x0a, 0x02});
    CHECK(aml::integer(0xff) == Bytes{0x0a, 0xff});
    CHECK(aml::integer(0x100) == Bytes{0x0b, 0x00, 0x01});
    CHECK(aml::integer(0x10000) == Bytes{0x0c, 0x00, 0x00, 0x01, 0x00});
    CHECK(aml::integer(0x100000000) == Bytes{0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00});
}

TEST_CASE("AML EISA IDs compress three letters and four hex digits", "[boot]") {
    CHECK(aml::eisa_id("PNP0A03") == 0x030ad041u);  // iasl: EisaId ("PNP0A03") = 0x030AD041
    CHECK(aml::eisa_id("PNP0501") == 0x0105d041u);
    CHECK(aml::eisa_id("QEMU0002") == std::nullopt);
    CHECK(aml::eisa_id("pnp0a03") == std::nullopt);
    CHECK(aml::eisa_id("PNP0G03") == std::nullopt);
    CHECK(aml::eisa_id("PN10A03") == std::nullopt);
}

TEST_CASE("AML I/O port descriptors: a fixed 16-bit-decoded range", "[boot]") {
    ResourceTemplate resources;
    resources.io(0x60, 1).io(0x3f8, 8);
    // iasl: IO (Decode16, 0x0060, 0x0060, 0x01, 0x01) = 47 01 60 00 60 00 01 01
    CHECK(resources.bytes() == Bytes{0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,  //
                                     0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,  //
                                     0x79, 0x00});
}

TEST_CASE("AML resource templates", "[boot]") {
    ResourceTemplate resources;
    resources.memory32_fixed(MemoryAccess::ReadWrite, 0xd0001000, 0x1000)
        .interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh, InterruptSharing::Exclusive, 5);
    CHECK(resources.bytes() == Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,
                                     0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,  //
                                     0x79, 0x00});
    ResourceTemplate other;
    other.memory32_fixed(MemoryAccess::ReadOnly, 0x12345678, 0x10)
        .interrupt(InterruptTrigger::Level, InterruptPolarity::ActiveLow, InterruptSharing::Shared, 0x123);
    CHECK(other.bytes() == Bytes{0x86, 0x09, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0x10, 0x00, 0x00, 0x00,
                                 0x89, 0x06, 0x00, 0x0d, 0x01, 0x23, 0x01, 0x00, 0x00,  //
                                 0x79, 0x00});
    CHECK(ResourceTemplate().bytes() == Bytes{0x79, 0x00});
}

TEST_CASE("AML address space descriptors: a host bridge's buses and window", "[boot]") {
    ResourceTemplate buses;
    buses.word_bus_number(0, 0).word_bus_number(0, 0xff);
    // iasl: WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
    //   0x0000, 0x0000, 0x0000, 0x0000, 0x0001) = 88 0D 00 02 0C 00 ...
    CHECK(buses.bytes() == Bytes{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,  //
                                 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 0xff, 0x00, 0x00, 0x00, 0x00, 0x01,  //
                                 0x79, 0x00});
    ResourceTemplate window;
    window.dword_memory(0xc0000000, 0x10000000);
    // iasl: DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
    //   NonCacheable, ReadWrite, 0, 0xC0000000, 0xCFFFFFFF, 0, 0x10000000)
    CHECK(window.bytes() == Bytes{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01,  //
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xcf,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,  //
                                  0x79, 0x00});
}

TEST_CASE("AML names, _HID, _UID", "[boot]") {
    AmlBuilder builder;
    builder.hid("PNP0A03").hid("LNRO0005").uid(0).uid(0x1234).name_integer("FOO", 7).name_string("_STR", "hi");
    CHECK(ok(builder.bytes()) == concat({
                                     {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03},
                                     {0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00},
                                     {0x08, '_', 'U', 'I', 'D', 0x00},
                                     {0x08, '_', 'U', 'I', 'D', 0x0b, 0x34, 0x12},
                                     {0x08, 'F', 'O', 'O', '_', 0x0a, 0x07},
                                     {0x08, '_', 'S', 'T', 'R', 0x0d, 'h', 'i', 0x00},
                                 }));
}

TEST_CASE("AML virtio-mmio device, byte for byte", "[boot]") {
    // ASL:
    //   Scope (\_SB) {
    //     Device (VR00) {
    //       Name (_HID, "LNRO0005")
    //       Name (_UID, Zero)
    //       Name (_CRS, ResourceTemplate () {
    //         Memory32Fixed (ReadWrite, 0xD0001000, 0x00001000)
    //         Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 5 }
    //       })
    //     }
    //   }
    ResourceTemplate resources;
    resources.memory32_fixed(MemoryAccess::ReadWrite, 0xd0001000, 0x1000)
        .interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh, InterruptSharing::Exclusive, 5);
    AmlBuilder device;
    device.hid("LNRO0005").uid(0).crs(resources);
    AmlBuilder bus;
    bus.device("VR00", device);
    AmlBuilder root;
    root.scope("\\_SB_", bus);

    const Bytes hid{0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00};  // 15
    const Bytes uid{0x08, '_', 'U', 'I', 'D', 0x00};                                               // 6
    // Name(_CRS, Buffer): BufferOp, PkgLength 0x1a (1 + 2 + 23), BytePrefix 0x17 (23 bytes).
    const Bytes crs = concat({{0x08, '_', 'C', 'R', 'S', 0x11, 0x1a, 0x0a, 0x17}, resources.bytes()});  // 32
    REQUIRE(crs.size() == 32);
    // Device: ExtOpPrefix DeviceOp, PkgLength 1 + 4 + 15 + 6 + 32 = 58 = 0x3a.
    const Bytes device_bytes = concat({{0x5b, 0x82, 0x3a, 'V', 'R', '0', '0'}, hid, uid, crs});
    REQUIRE(device_bytes.size() == 60);
    CHECK(ok(bus.bytes()) == device_bytes);
    // Scope: PkgLength for 5 + 60 = 65 content bytes is two bytes: 67 = 0x43 -> 0x43, 0x04.
    CHECK(ok(root.bytes()) == concat({{0x10, 0x43, 0x04, 0x5c, '_', 'S', 'B', '_'}, device_bytes}));
}

TEST_CASE("AML builder output equals iasl's for the same ASL", "[boot]") {
    // iasl 20200925 compiled this ASL; `expected` is its AML after the
    // 36-byte table header:
    //   Name (_HID, EisaId ("PNP0A03"))  Name (_UID, 0x1234)
    //   Name (BIGN, 0x123456789)         Name (STR0, "hi")
    //   Scope (\_SB) {
    //     Device (VR00) {
    //       Name (_HID, "LNRO0005")  Name (_UID, Zero)
    //       Name (_CRS, ResourceTemplate () {
    //         Memory32Fixed (ReadWrite, 0xD0001000, 0x00001000)
    //         Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 5 }
    //         Memory32Fixed (ReadOnly, 0x12345678, 0x10)
    //         Interrupt (ResourceConsumer, Level, ActiveLow, Shared) { 0x123 } })
    //     }
    //     Device (BIG0) {  // a buffer past 63 bytes: two-byte PkgLength
    //       Name (BUF0, ResourceTemplate () {
    //         Memory32Fixed (ReadWrite, 0x1000, 0x1000) ... (ReadWrite, 0x6000, 0x1000) })
    //     }
    //   }
    const Bytes expected{
        0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0a, 0x03, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x0b,
        0x34, 0x12, 0x08, 0x42, 0x49, 0x47, 0x4e, 0x0e, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00,
        0x08, 0x53, 0x54, 0x52, 0x30, 0x0d, 0x68, 0x69, 0x00, 0x10, 0x45, 0x0b, 0x5c, 0x5f, 0x53, 0x42,
        0x5f, 0x5b, 0x82, 0x40, 0x05, 0x56, 0x52, 0x30, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c,
        0x4e, 0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5f,
        0x43, 0x52, 0x53, 0x11, 0x2f, 0x0a, 0x2c, 0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00,
        0x10, 0x00, 0x00, 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x86, 0x09, 0x00, 0x00,
        0x78, 0x56, 0x34, 0x12, 0x10, 0x00, 0x00, 0x00, 0x89, 0x06, 0x00, 0x0d, 0x01, 0x23, 0x01, 0x00,
        0x00, 0x79, 0x00, 0x5b, 0x82, 0x4a, 0x05, 0x42, 0x49, 0x47, 0x30, 0x08, 0x42, 0x55, 0x46, 0x30,
        0x11, 0x4e, 0x04, 0x0a, 0x4a, 0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00,
        0x00, 0x86, 0x09, 0x00, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x86, 0x09, 0x00,
        0x01, 0x00, 0x30, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x86, 0x09, 0x00, 0x01, 0x00, 0x40, 0x00,
        0x00, 0x00, 0x10, 0x00, 0x00, 0x86, 0x09, 0x00, 0x01, 0x00, 0x50, 0x00, 0x00, 0x00, 0x10, 0x00,
        0x00, 0x86, 0x09, 0x00, 0x01, 0x00, 0x60, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x79, 0x00};
    ResourceTemplate resources;
    resources.memory32_fixed(MemoryAccess::ReadWrite, 0xd0001000, 0x1000)
        .interrupt(InterruptTrigger::Edge, InterruptPolarity::ActiveHigh, InterruptSharing::Exclusive, 5)
        .memory32_fixed(MemoryAccess::ReadOnly, 0x12345678, 0x10)
        .interrupt(InterruptTrigger::Level, InterruptPolarity::ActiveLow, InterruptSharing::Shared, 0x123);
    AmlBuilder virtio;
    virtio.hid("LNRO0005").uid(0).crs(resources);
    ResourceTemplate ranges;
    for (uint32_t index = 1; index <= 6; ++index) {
        ranges.memory32_fixed(MemoryAccess::ReadWrite, index * 0x1000, 0x1000);
    }
    AmlBuilder big;
    big.name_resources("BUF0", ranges);
    AmlBuilder bus;
    bus.device("VR00", virtio).device("BIG0", big);
    AmlBuilder root;
    root.hid("PNP0A03").uid(0x1234).name_integer("BIGN", 0x123456789).name_string("STR0", "hi").scope("\\_SB_", bus);
    CHECK(ok(root.bytes()) == expected);
}

TEST_CASE("AML builder keeps the first error", "[boot]") {
    AmlBuilder bad_name;
    bad_name.name_integer("lower", 1).uid(2);
    CHECK_FALSE(bad_name.bytes().ok());

    AmlBuilder bad_string;
    bad_string.name_string("_STR", "tab\there");
    CHECK_FALSE(bad_string.bytes().ok());

    AmlBuilder outer;
    outer.device("DEV0", bad_string);
    CHECK_FALSE(outer.bytes().ok());
    AmlBuilder bad_device;
    bad_device.device("0DEV", AmlBuilder());
    CHECK_FALSE(bad_device.bytes().ok());
}
