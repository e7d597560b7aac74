#include "vmm/decimal.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace skiff {

namespace {

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<uint64_t> parse_whole_number(std::string_view text) {
    if (!all_digits(text) || (text.size() > 1 && text.front() == '0')) {
        return std::nullopt;
    }
    uint64_t value = 0;
    auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || stop != text.data() + text.size()) {
        return std::nullopt;  // too large
    }
    return value;
}

std::optional<uint64_t> parse_whole_number(std::string_view text, uint64_t minimum, uint64_t maximum) {
    auto value = parse_whole_number(text);
    if (!value || *value < minimum || *value > maximum) {
        return std::nullopt;
    }
    return value;
}

std::optional<double> parse_decimal_fraction(std::string_view text) {
    size_t dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    if (!all_digits(whole) || (whole.size() > 1 && whole.front() == '0')) {
        return std::nullopt;
    }
    if (dot != std::string_view::npos && !all_digits(text.substr(dot + 1))) {
        return std::nullopt;
    }
    double value = 0;
    auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
    if (error != std::errc() || stop != text.data() + text.size() || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

}  // namespace skiff
