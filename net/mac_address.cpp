#include "net/mac_address.h"

#include <fmt/format.h>

#include <algorithm>

namespace skiff::net {

namespace {

int hex_digit_value(char digit) {
    if (digit >= '0' && digit <= '9') {
        return digit - '0';
    }
    if (digit >= 'a' && digit <= 'f') {
        return digit - 'a' + 10;
    }
    if (digit >= 'A' && digit <= 'F') {
        return digit - 'A' + 10;
    }
    return -1;
}

}  // namespace

bool MacAddress::is_zero() const {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t byte) { return byte == 0; });
}

std::string MacAddress::to_string() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2], bytes[3],
                       bytes[4], bytes[5]);
}

Result<MacAddress> MacAddress::parse(std::string_view text) {
    // "xx:xx:xx:xx:xx:xx" is 17 characters; anything else (one-digit
    // octets, '-' separators, trailing junk) is refused rather than guessed.
    constexpr size_t kTextLength = 17;
    auto invalid = [&] {
        return Error::format("'{}' is not a MAC address: expected six hex pairs separated by ':', "
                             "e.g. 02:12:34:56:78:9a",
                             text);
    };
    if (text.size() != kTextLength) {
        return invalid();
    }
    MacAddress address;
    for (size_t octet = 0; octet < address.bytes.size(); ++octet) {
        size_t at = octet * 3;
        int high = hex_digit_value(text[at]);
        int low = hex_digit_value(text[at + 1]);
        if (high < 0 || low < 0 || (octet + 1 < address.bytes.size() && text[at + 2] != ':')) {
            return invalid();
        }
        address.bytes[octet] = static_cast<uint8_t>(high * 16 + low);
    }
    return address;
}

MacAddress default_mac_address(std::string_view instance, uint8_t interface_index) {
    // FNV-1a (32-bit): small, stable across builds and platforms, and good
    // enough to spread instance strings over four bytes.
    uint32_t hash = 2166136261u;
    for (char character : instance) {
        hash ^= static_cast<uint8_t>(character);
        hash *= 16777619u;
    }
    MacAddress address;
    address.bytes[0] = 0x02;  // locally administered, unicast
    address.bytes[1] = static_cast<uint8_t>(hash >> 24);
    address.bytes[2] = static_cast<uint8_t>(hash >> 16);
    address.bytes[3] = static_cast<uint8_t>(hash >> 8);
    address.bytes[4] = static_cast<uint8_t>(hash);
    address.bytes[5] = interface_index;
    return address;
}

}  // namespace skiff::net
