// A small AML encoder for the DSDT, following ACPI 6.5 chapter 20 (AML
// grammar: NameOp, ScopeOp, DeviceOp, PkgLength, NameString, integer and
// string data) and section 6.4 (resource descriptors for _CRS: Memory32Fixed,
// Extended Interrupt, I/O Port, Word and DWord Address Space, End Tag). It emits what iasl emits for the same ASL,
// so the unit tests can compare against hand-assembled bytes.
//
//   AmlBuilder device;
//   device.hid("LNRO0005").uid(0).crs(ResourceTemplate().memory32_fixed(...).interrupt(...));
//   AmlBuilder bus;
//   bus.device("VR00", device);
//   AmlBuilder dsdt;
//   dsdt.scope("\\_SB_", bus);
#pragma once

#include "vmm/result.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace skiff::boot {

enum class MemoryAccess { ReadOnly, ReadWrite };
enum class InterruptTrigger { Level, Edge };
enum class InterruptPolarity { ActiveHigh, ActiveLow };
enum class InterruptSharing { Exclusive, Shared };

// ASL's ResourceTemplate(): a list of resource descriptors.
class ResourceTemplate {
public:
    // Memory32Fixed(access, base, length)
    ResourceTemplate& memory32_fixed(MemoryAccess access, uint32_t base, uint32_t length);
    // Interrupt(ResourceConsumer, trigger, polarity, sharing) { number }
    ResourceTemplate& interrupt(InterruptTrigger trigger, InterruptPolarity polarity, InterruptSharing sharing,
                                uint32_t number);
    // IO(Decode16, base, base, 1, length): a fixed range of I/O ports.
    ResourceTemplate& io(uint16_t base, uint8_t length);
    // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0,
    //               first, last, 0, last - first + 1): the buses a host bridge decodes.
    ResourceTemplate& word_bus_number(uint16_t first, uint16_t last);
    // DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed,
    //             NonCacheable, ReadWrite, 0, base, base + length - 1, 0, length):
    // a window a host bridge passes on. `length` must not be 0.
    ResourceTemplate& dword_memory(uint32_t base, uint32_t length);
    // The descriptors, then the End Tag (checksum 0: "treat as valid").
    [[nodiscard]] std::vector<uint8_t> bytes() const;

private:
    std::vector<uint8_t> descriptors_;
};

// A term list under construction. Bad names or strings do not throw: the
// first problem is kept and bytes() returns it.
class AmlBuilder {
public:
    // Name(name, value) with the shortest integer encoding (Zero, One,
    // BytePrefix, WordPrefix, DWordPrefix, QWordPrefix).
    AmlBuilder& name_integer(std::string_view name, uint64_t value);
    // Name(name, "value"); printable ASCII only.
    AmlBuilder& name_string(std::string_view name, std::string_view value);
    // Name(name, Package() {values...}), integers only (at most 255).
    AmlBuilder& name_package(std::string_view name, std::initializer_list<uint64_t> values);
    // Name(name, ResourceTemplate() {...}), a Buffer.
    AmlBuilder& name_resources(std::string_view name, const ResourceTemplate& resources);
    // Name(_HID, EISAID("PNP0501")) for a 7-character PNP-style ID,
    // Name(_HID, "LNRO0005") otherwise.
    AmlBuilder& hid(std::string_view id);
    AmlBuilder& uid(uint64_t value);
    AmlBuilder& crs(const ResourceTemplate& resources);
    // Device(name) { body } and Scope(name) { body }.
    AmlBuilder& device(std::string_view name, const AmlBuilder& body);
    AmlBuilder& scope(std::string_view name, const AmlBuilder& body);

    [[nodiscard]] Result<std::vector<uint8_t>> bytes() const;

private:
    void append(const Result<std::vector<uint8_t>>& part);
    void append_block(std::initializer_list<uint8_t> opcode, std::string_view name, const AmlBuilder& body);

    std::vector<uint8_t> code_;
    std::optional<Error> error_;
};

namespace aml {

// PkgLength for `content_size` bytes that follow it (the encoding counts
// its own bytes too). Fails above the 28-bit maximum.
[[nodiscard]] Result<std::vector<uint8_t>> package_length(uint64_t content_size);
// NameString: optional '\' or '^' prefixes, then 1-4 character segments
// separated by '.'; short segments are padded with '_' as ASL does.
[[nodiscard]] Result<std::vector<uint8_t>> name_string(std::string_view path);
// The shortest integer encoding.
[[nodiscard]] std::vector<uint8_t> integer(uint64_t value);
// EISAID("PNP0A03") as the 32-bit value AML stores, or nothing if `id` is
// not three capital letters and four hex digits.
[[nodiscard]] std::optional<uint32_t> eisa_id(std::string_view id);

}  // namespace aml

}  // namespace skiff::boot
