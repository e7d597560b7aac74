// Strict reading of JSON request bodies and config files, the way
// Firecracker's serde models read them (deny_unknown_fields): a document
// with duplicate keys, an object with a field the model lacks, a field of
// the wrong type or out of range is an error whose one-line message names
// the field, what was expected and what was given.
//
// Nothing here throws: nlohmann's exceptions stop at parse_json().
#pragma once

#include "vmm/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::api {

// Objects and arrays nest at most this deep (skiff's deepest document, a
// config file's rate limiter, needs 4).
inline constexpr int kMaxJsonDepth = 16;

// Parses a whole document: valid UTF-8 JSON, nothing after it, no key twice
// in one object, at most kMaxJsonDepth levels.
Result<nlohmann::json> parse_json(std::string_view text);

// A request body: not empty, then parse_json.
Result<nlohmann::json> parse_body(std::string_view text);

// A key or other client-given text as it goes into an error message between
// quotes: JSON-escaped (a newline becomes \n, control characters \uXXXX,
// invalid UTF-8 U+FFFD), so that the message stays one line.
std::string printable_text(std::string_view text);

// A short description of a value for error messages: `"abc"`, `-1`,
// `true`, `null`, `an object`, `an array` (long values are cut).
std::string describe_json(const nlohmann::json& value);

// One JSON object read field by field. `path` names it in messages ("" for
// a body's top level, "rx_rate_limiter.bandwidth" inside it); fields it
// does not list are refused when it is made.
class JsonObject {
public:
    // Error if `value` is not an object or has a field not in `fields`.
    static Result<JsonObject> make(const nlohmann::json& value, std::string path,
                                   std::span<const std::string_view> fields);
    static Result<JsonObject> make(const nlohmann::json& value, std::string path,
                                   std::initializer_list<std::string_view> fields) {
        return make(value, std::move(path), std::span<const std::string_view>(fields.begin(), fields.size()));
    }

    // A field given with null is treated as absent, as serde does for an
    // Option; a required field must be present and not null.
    [[nodiscard]] bool has(std::string_view key) const;

    // Strings become paths, interface names, kernel command lines: one
    // holding a NUL (\u0000) is refused, naming the field.
    Result<std::string> required_string(std::string_view key) const;
    Result<std::optional<std::string>> optional_string(std::string_view key) const;
    // A non-negative integer in [minimum, maximum].
    Result<uint64_t> required_unsigned(std::string_view key, uint64_t minimum, uint64_t maximum) const;
    Result<std::optional<uint64_t>> optional_unsigned(std::string_view key, uint64_t minimum,
                                                      uint64_t maximum) const;
    Result<std::optional<bool>> optional_bool(std::string_view key) const;
    // Where `value` (the field's string) is in `names`; error listing them.
    Result<size_t> choice(std::string_view key, std::span<const std::string_view> names,
                          const std::string& value) const;
    // The field's value, any type (nullptr if absent or null).
    [[nodiscard]] const nlohmann::json* find(std::string_view key) const;

    // "rx_rate_limiter.bandwidth" for key "bandwidth" under "rx_rate_limiter".
    [[nodiscard]] std::string field_path(std::string_view key) const;

private:
    JsonObject(const nlohmann::json& value, std::string path) : value_(&value), path_(std::move(path)) {}

    Result<const nlohmann::json*> require(std::string_view key, std::string_view expected) const;

    const nlohmann::json* value_;
    std::string path_;
};

}  // namespace skiff::api
