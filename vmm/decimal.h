// Numbers as a caller types them on the command line or in a --net value:
// plain decimal only. No sign, no 0x or leading-zero octal (CLI11 and
// strtoul would read "0x2" as 2 and "010" as 8), no spaces, nothing after
// the digits, no "nan" or "inf".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace skiff {

// "0" or digits without a leading zero, at most UINT64_MAX.
[[nodiscard]] std::optional<uint64_t> parse_whole_number(std::string_view text);

// The same, within [minimum, maximum].
[[nodiscard]] std::optional<uint64_t> parse_whole_number(std::string_view text, uint64_t minimum, uint64_t maximum);

// A whole number as above, optionally followed by '.' and at least one
// digit ("1", "0.5", "2.25"); always finite.
[[nodiscard]] std::optional<double> parse_decimal_fraction(std::string_view text);

}  // namespace skiff
