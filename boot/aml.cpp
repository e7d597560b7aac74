// AML encoder; see aml.h (ACPI 6.5 chapter 20 and section 6.4).
#include "boot/aml.h"

#include <cctype>

namespace skiff::boot {

namespace {

constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;
constexpr uint8_t kRootChar = '\\';
constexpr uint8_t kParentPrefixChar = '^';
constexpr uint8_t kNullName = 0x00;

// Resource descriptors (ACPI 6.5 section 6.4).
constexpr uint8_t kMemory32FixedTag = 0x86;        // large item, name 0x06
constexpr uint16_t kMemory32FixedLength = 9;
constexpr uint8_t kExtendedInterruptTag = 0x89;    // large item, name 0x09
constexpr uint8_t kIoPortTag = 0x47;               // small item, name 0x08, length 7
constexpr uint8_t kIoPortDecode16 = 0x01;
constexpr uint8_t kEndTag = 0x79;                  // small item, name 0x0f, length 1
// Address space descriptors (ACPI 6.5, 6.4.3.5): a producer range whose
// minimum and maximum are fixed, positively decoded, untranslated.
constexpr uint8_t kDWordAddressTag = 0x87;         // large item, name 0x07
constexpr uint8_t kWordAddressTag = 0x88;          // large item, name 0x08
constexpr uint8_t kAddressMemory = 0;
constexpr uint8_t kAddressBusNumber = 2;
constexpr uint8_t kAddressFixedProducer = 0x0c;    // _MIF | _MAF, producer, positive decode
constexpr uint8_t kMemoryReadWrite = 0x01;         // _RW; _MEM 0: non-cacheable
constexpr uint8_t kInterruptConsumer = 0x01;
constexpr uint8_t kInterruptEdge = 0x02;
constexpr uint8_t kInterruptActiveLow = 0x04;
constexpr uint8_t kInterruptShared = 0x08;

constexpr uint64_t kMaxPackageLength = (uint64_t{1} << 28) - 1;
constexpr size_t kNameSegmentSize = 4;

void put_le(std::vector<uint8_t>& out, uint64_t value, size_t size) {
    for (size_t index = 0; index < size; ++index) {
        out.push_back(static_cast<uint8_t>(value >> (8 * index)));
    }
}

bool lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return lead_name_char(c) || (c >= '0' && c <= '9'); }

Result<void> append_segment(std::vector<uint8_t>& out, std::string_view segment, std::string_view path) {
    if (segment.empty() || segment.size() > kNameSegmentSize || !lead_name_char(segment.front())) {
        return Error::format("AML name \"{}\": segment \"{}\" must be 1-4 characters starting with A-Z or _", path,
                             segment);
    }
    for (char c : segment) {
        if (!name_char(c)) {
            return Error::format("AML name \"{}\": character '{}' is not A-Z, 0-9 or _", path, c);
        }
        out.push_back(static_cast<uint8_t>(c));
    }
    for (size_t pad = segment.size(); pad < kNameSegmentSize; ++pad) {
        out.push_back('_');
    }
    return {};
}

}  // namespace

namespace aml {

Result<std::vector<uint8_t>> package_length(uint64_t content_size) {
    // One byte holds up to 63 (6 bits); with n following bytes the lead
    // byte keeps 4 bits and each following byte 8 more.
    for (uint64_t extra = 0; extra <= 3; ++extra) {
        const uint64_t total = content_size + 1 + extra;
        const uint64_t limit = extra == 0 ? 0x3f : (uint64_t{1} << (4 + 8 * extra)) - 1;
        if (total > limit) {
            continue;
        }
        if (extra == 0) {
            return std::vector<uint8_t>{static_cast<uint8_t>(total)};
        }
        std::vector<uint8_t> out{static_cast<uint8_t>((extra << 6) | (total & 0x0f))};
        put_le(out, total >> 4, extra);
        return out;
    }
    return Error::format("AML package of {} bytes exceeds the PkgLength maximum {:#x}", content_size,
                         kMaxPackageLength);
}

Result<std::vector<uint8_t>> name_string(std::string_view path) {
    std::vector<uint8_t> out;
    std::string_view rest = path;
    if (!rest.empty() && rest.front() == kRootChar) {
        out.push_back(kRootChar);
        rest.remove_prefix(1);
    } else {
        while (!rest.empty() && rest.front() == kParentPrefixChar) {
            out.push_back(kParentPrefixChar);
            rest.remove_prefix(1);
        }
    }
    if (rest.empty()) {
        if (out.empty()) {
            return Error{"AML name is empty"};
        }
        out.push_back(kNullName);
        return out;
    }
    std::vector<std::string_view> segments;
    while (true) {
        size_t dot = rest.find('.');
        segments.push_back(rest.substr(0, dot));
        if (dot == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(dot + 1);
    }
    if (segments.size() > 255) {
        return Error::format("AML name \"{}\" has more than 255 segments", path);
    }
    if (segments.size() == 2) {
        out.push_back(kDualNamePrefix);
    } else if (segments.size() > 2) {
        out.push_back(kMultiNamePrefix);
        out.push_back(static_cast<uint8_t>(segments.size()));
    }
    for (std::string_view segment : segments) {
        TRY(append_segment(out, segment, path));
    }
    return out;
}

std::vector<uint8_t> integer(uint64_t value) {
    std::vector<uint8_t> out;
    if (value == 0) {
        out.push_back(kZeroOp);
    } else if (value == 1) {
        out.push_back(kOneOp);
    } else if (value <= 0xff) {
        out.push_back(kBytePrefix);
        put_le(out, value, 1);
    } else if (value <= 0xffff) {
        out.push_back(kWordPrefix);
        put_le(out, value, 2);
    } else if (value <= 0xffffffff) {
        out.push_back(kDWordPrefix);
        put_le(out, value, 4);
    } else {
        out.push_back(kQWordPrefix);
        put_le(out, value, 8);
    }
    return out;
}

std::optional<uint32_t> eisa_id(std::string_view id) {
    if (id.size() != 7) {
        return std::nullopt;
    }
    for (size_t index = 0; index < 3; ++index) {
        if (id[index] < 'A' || id[index] > 'Z') {
            return std::nullopt;
        }
    }
    uint32_t product = 0;
    for (size_t index = 3; index < 7; ++index) {
        const char c = id[index];
        uint32_t digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<uint32_t>(c - '0');
        } else if (c >= 'A' && c <= 'F') {
            digit = static_cast<uint32_t>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
        product = (product << 4) | digit;
    }
    // Three 5-bit letters ('A' = 1) and a 16-bit product number, stored
    // big-endian: the bytes in memory read vendor high, vendor low, product.
    const uint32_t vendor = (uint32_t(id[0] - 0x40) << 10) | (uint32_t(id[1] - 0x40) << 5) | uint32_t(id[2] - 0x40);
    const uint32_t big_endian = (vendor << 16) | product;
    return __builtin_bswap32(big_endian);
}

}  // namespace aml

ResourceTemplate& ResourceTemplate::memory32_fixed(MemoryAccess access, uint32_t base, uint32_t length) {
    descriptors_.push_back(kMemory32FixedTag);
    put_le(descriptors_, kMemory32FixedLength, 2);
    descriptors_.push_back(access == MemoryAccess::ReadWrite ? 1 : 0);
    put_le(descriptors_, base, 4);
    put_le(descriptors_, length, 4);
    return *this;
}

ResourceTemplate& ResourceTemplate::interrupt(InterruptTrigger trigger, InterruptPolarity polarity,
                                              InterruptSharing sharing, uint32_t number) {
    uint8_t flags = kInterruptConsumer;
    flags |= trigger == InterruptTrigger::Edge ? kInterruptEdge : 0;
    flags |= polarity == InterruptPolarity::ActiveLow ? kInterruptActiveLow : 0;
    flags |= sharing == InterruptSharing::Shared ? kInterruptShared : 0;
    descriptors_.push_back(kExtendedInterruptTag);
    put_le(descriptors_, 2 + 4, 2);  // flags, table length, one 32-bit interrupt
    descriptors_.push_back(flags);
    descriptors_.push_back(1);
    put_le(descriptors_, number, 4);
    return *this;
}

ResourceTemplate& ResourceTemplate::io(uint16_t base, uint8_t length) {
    descriptors_.push_back(kIoPortTag);
    descriptors_.push_back(kIoPortDecode16);
    put_le(descriptors_, base, 2);  // minimum
    put_le(descriptors_, base, 2);  // maximum: the range cannot move
    descriptors_.push_back(1);      // alignment
    descriptors_.push_back(length);
    return *this;
}

ResourceTemplate& ResourceTemplate::word_bus_number(uint16_t first, uint16_t last) {
    descriptors_.push_back(kWordAddressTag);
    put_le(descriptors_, 3 + 5 * 2, 2);  // type, flags, type flags, five words
    descriptors_.push_back(kAddressBusNumber);
    descriptors_.push_back(kAddressFixedProducer);
    descriptors_.push_back(0);
    put_le(descriptors_, 0, 2);  // granularity
    put_le(descriptors_, first, 2);
    put_le(descriptors_, last, 2);
    put_le(descriptors_, 0, 2);  // translation
    put_le(descriptors_, uint32_t{last} - first + 1, 2);
    return *this;
}

ResourceTemplate& ResourceTemplate::dword_memory(uint32_t base, uint32_t length) {
    descriptors_.push_back(kDWordAddressTag);
    put_le(descriptors_, 3 + 5 * 4, 2);  // type, flags, type flags, five dwords
    descriptors_.push_back(kAddressMemory);
    descriptors_.push_back(kAddressFixedProducer);
    descriptors_.push_back(kMemoryReadWrite);
    put_le(descriptors_, 0, 4);  // granularity
    put_le(descriptors_, base, 4);
    put_le(descriptors_, uint64_t{base} + length - 1, 4);
    put_le(descriptors_, 0, 4);  // translation
    put_le(descriptors_, length, 4);
    return *this;
}

std::vector<uint8_t> ResourceTemplate::bytes() const {
    std::vector<uint8_t> out = descriptors_;
    out.push_back(kEndTag);
    out.push_back(0);
    return out;
}

void AmlBuilder::append(const Result<std::vector<uint8_t>>& part) {
    if (error_) {
        return;
    }
    if (!part.ok()) {
        error_ = part.error();
        return;
    }
    code_.insert(code_.end(), part->begin(), part->end());
}

AmlBuilder& AmlBuilder::name_integer(std::string_view name, uint64_t value) {
    auto encoded_name = aml::name_string(name);
    if (!encoded_name.ok()) {
        append(encoded_name);
        return *this;
    }
    std::vector<uint8_t> out{kNameOp};
    out.insert(out.end(), encoded_name->begin(), encoded_name->end());
    auto number = aml::integer(value);
    out.insert(out.end(), number.begin(), number.end());
    append(out);
    return *this;
}

AmlBuilder& AmlBuilder::name_string(std::string_view name, std::string_view value) {
    for (char c : value) {
        if (c < 0x20 || c > 0x7e) {
            append(Error::format("AML string for {} contains a byte {:#04x} that is not printable ASCII", name,
                                 static_cast<uint8_t>(c)));
            return *this;
        }
    }
    auto encoded_name = aml::name_string(name);
    if (!encoded_name.ok()) {
        append(encoded_name);
        return *this;
    }
    std::vector<uint8_t> out{kNameOp};
    out.insert(out.end(), encoded_name->begin(), encoded_name->end());
    out.push_back(kStringPrefix);
    out.insert(out.end(), value.begin(), value.end());
    out.push_back(0);
    append(out);
    return *this;
}

AmlBuilder& AmlBuilder::name_package(std::string_view name, std::initializer_list<uint64_t> values) {
    if (values.size() > 0xff) {
        append(Error::format("AML package {} has {} elements (at most 255)", name, values.size()));
        return *this;
    }
    auto encoded_name = aml::name_string(name);
    if (!encoded_name.ok()) {
        append(encoded_name);
        return *this;
    }
    std::vector<uint8_t> elements{static_cast<uint8_t>(values.size())};  // NumElements
    for (uint64_t value : values) {
        auto number = aml::integer(value);
        elements.insert(elements.end(), number.begin(), number.end());
    }
    auto length = aml::package_length(elements.size());
    if (!length.ok()) {
        append(length);
        return *this;
    }
    std::vector<uint8_t> out{kNameOp};
    out.insert(out.end(), encoded_name->begin(), encoded_name->end());
    out.push_back(kPackageOp);
    out.insert(out.end(), length->begin(), length->end());
    out.insert(out.end(), elements.begin(), elements.end());
    append(out);
    return *this;
}

AmlBuilder& AmlBuilder::name_resources(std::string_view name, const ResourceTemplate& resources) {
    auto encoded_name = aml::name_string(name);
    if (!encoded_name.ok()) {
        append(encoded_name);
        return *this;
    }
    // Buffer: BufferOp PkgLength BufferSize ByteList.
    const std::vector<uint8_t> data = resources.bytes();
    std::vector<uint8_t> contents = aml::integer(data.size());
    contents.insert(contents.end(), data.begin(), data.end());
    auto length = aml::package_length(contents.size());
    if (!length.ok()) {
        append(length);
        return *this;
    }
    std::vector<uint8_t> out{kNameOp};
    out.insert(out.end(), encoded_name->begin(), encoded_name->end());
    out.push_back(kBufferOp);
    out.insert(out.end(), length->begin(), length->end());
    out.insert(out.end(), contents.begin(), contents.end());
    append(out);
    return *this;
}

AmlBuilder& AmlBuilder::hid(std::string_view id) {
    if (auto compressed = aml::eisa_id(id)) {
        // EISAID() is always a DWord, whatever its value.
        auto encoded_name = aml::name_string("_HID");
        std::vector<uint8_t> out{kNameOp};
        out.insert(out.end(), encoded_name->begin(), encoded_name->end());
        out.push_back(kDWordPrefix);
        put_le(out, *compressed, 4);
        append(out);
        return *this;
    }
    return name_string("_HID", id);
}

AmlBuilder& AmlBuilder::uid(uint64_t value) { return name_integer("_UID", value); }

AmlBuilder& AmlBuilder::crs(const ResourceTemplate& resources) { return name_resources("_CRS", resources); }

void AmlBuilder::append_block(std::initializer_list<uint8_t> opcode, std::string_view name, const AmlBuilder& body) {
    auto encoded_name = aml::name_string(name);
    auto body_bytes = body.bytes();
    if (!encoded_name.ok() || !body_bytes.ok()) {
        append(encoded_name.ok() ? body_bytes : encoded_name);
        return;
    }
    std::vector<uint8_t> contents = *encoded_name;
    contents.insert(contents.end(), body_bytes->begin(), body_bytes->end());
    auto length = aml::package_length(contents.size());
    if (!length.ok()) {
        append(length);
        return;
    }
    std::vector<uint8_t> out(opcode);
    out.insert(out.end(), length->begin(), length->end());
    out.insert(out.end(), contents.begin(), contents.end());
    append(out);
}

AmlBuilder& AmlBuilder::device(std::string_view name, const AmlBuilder& body) {
    append_block({kExtOpPrefix, kDeviceOp}, name, body);
    return *this;
}

AmlBuilder& AmlBuilder::scope(std::string_view name, const AmlBuilder& body) {
    append_block({kScopeOp}, name, body);
    return *this;
}

Result<std::vector<uint8_t>> AmlBuilder::bytes() const {
    if (error_) {
        return *error_;
    }
    return code_;
}

}  // namespace skiff::boot
