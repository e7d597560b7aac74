#include "vmm/decimal.h"

#include <catch2/catch.hpp>

using skiff::parse_decimal_fraction;
using skiff::parse_whole_number;

TEST_CASE("whole numbers are plain decimal", "[decimal]") {
    CHECK(parse_whole_number("0") == 0u);
    CHECK(parse_whole_number("7") == 7u);
    CHECK(parse_whole_number("18446744073709551615") == UINT64_MAX);
    for (const char* text : {"", "0x2", "010", "00", "-1", "+1", " 1", "1 ", "1x", "1.0", "1e3", "nan", "inf",
                             "18446744073709551616", "٣"}) {
        INFO(text);
        CHECK_FALSE(parse_whole_number(text));
    }
    CHECK(parse_whole_number("16", 16, 32) == 16u);
    CHECK(parse_whole_number("32", 16, 32) == 32u);
    CHECK_FALSE(parse_whole_number("15", 16, 32));
    CHECK_FALSE(parse_whole_number("33", 16, 32));
}

TEST_CASE("decimal fractions are finite and plain", "[decimal]") {
    CHECK(parse_decimal_fraction("0") == 0.0);
    CHECK(parse_decimal_fraction("1.5") == 1.5);
    CHECK(parse_decimal_fraction("0.25") == 0.25);
    CHECK(parse_decimal_fraction("30") == 30.0);
    for (const char* text : {"", "nan", "NaN", "inf", "-1", "+1", ".5", "1.", "1e3", "0x1p3", "01.5", "1.5s",
                             " 1", "1..5", "1.2.3"}) {
        INFO(text);
        CHECK_FALSE(parse_decimal_fraction(text));
    }
}
