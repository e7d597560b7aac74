#include "vmm/api/json_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

namespace skiff::api {

namespace {

// Thrown by the parser callback to stop at a duplicate key or too deep a
// document; caught in parse_json.
struct DocumentRefused {
    std::string message;
};

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string without_exception_tag(std::string_view message) {
    if (message.starts_with("[json.exception.")) {
        size_t end = message.find("] ");
        if (end != std::string_view::npos) {
            message.remove_prefix(end + 2);
        }
    }
    return std::string(message);
}

constexpr size_t kDescribedLength = 40;

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text) {
    std::vector<std::set<std::string>> keys_per_object;
    auto check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        switch (event) {
            case Event::object_start:
            case Event::array_start:
                if (depth >= kMaxJsonDepth) {
                    throw DocumentRefused{fmt::format("the JSON nests deeper than {} levels", kMaxJsonDepth)};
                }
                if (event == Event::object_start) {
                    keys_per_object.emplace_back();
                }
                break;
            case Event::object_end:
                keys_per_object.pop_back();
                break;
            case Event::key:
                if (!keys_per_object.back().insert(parsed.get<std::string>()).second) {
                    throw DocumentRefused{fmt::format("field '{}' is given twice in one object",
                                                      printable_text(parsed.get<std::string>()))};
                }
                break;
            default:
                break;
        }
        return true;
    };
    try {
        return nlohmann::json::parse(text.begin(), text.end(), check);
    } catch (const DocumentRefused& refused) {
        return Error{refused.message};
    } catch (const nlohmann::json::exception& exception) {
        return Error{"invalid JSON: " + without_exception_tag(exception.what())};
    } catch (const std::exception& exception) {
        return Error{fmt::format("invalid JSON: {}", exception.what())};
    }
}

Result<nlohmann::json> parse_body(std::string_view text) {
    if (text.empty()) {
        return Error{"the request needs a JSON body"};
    }
    return parse_json(text);
}

std::string printable_text(std::string_view text) {
    std::string quoted =
        nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return quoted.substr(1, quoted.size() - 2);  // without the JSON string's double quotes
}

std::string describe_json(const nlohmann::json& value) {
    if (value.is_object()) {
        return "an object";
    }
    if (value.is_array()) {
        return "an array";
    }
    std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > kDescribedLength) {
        text.resize(kDescribedLength);
        text += "...";
    }
    return text;
}

Result<JsonObject> JsonObject::make(const nlohmann::json& value, std::string path,
                                    std::span<const std::string_view> fields) {
    std::string_view what = path.empty() ? std::string_view("the body") : std::string_view(path);
    if (!value.is_object()) {
        return Error::format("{} must be a JSON object, got {}", what, describe_json(value));
    }
    for (const auto& item : value.items()) {
        const std::string& key = item.key();
        if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
            JsonObject object(value, path);
            return Error::format("unknown field '{}' (valid fields{}: {})", object.field_path(key),
                                 path.empty() ? "" : " of " + path, fmt::join(fields, ", "));
        }
    }
    return JsonObject(value, std::move(path));
}

bool JsonObject::has(std::string_view key) const { return find(key) != nullptr; }

const nlohmann::json* JsonObject::find(std::string_view key) const {
    auto found = value_->find(key);
    if (found == value_->end() || found->is_null()) {
        return nullptr;
    }
    return &*found;
}

std::string JsonObject::field_path(std::string_view key) const {
    return path_.empty() ? printable_text(key) : fmt::format("{}.{}", path_, printable_text(key));
}

Result<const nlohmann::json*> JsonObject::require(std::string_view key, std::string_view expected) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr) {
        return Error::format("missing required field '{}' ({})", field_path(key), expected);
    }
    return value;
}

Result<std::string> JsonObject::required_string(std::string_view key) const {
    const nlohmann::json* value = TRY(require(key, "a string"));
    if (!value->is_string()) {
        return Error::format("field '{}': expected a string, got {}", field_path(key), describe_json(*value));
    }
    std::string text = value->get<std::string>();
    // The C library would end a path at the NUL and use what precedes it.
    if (size_t nul = text.find('\0'); nul != std::string::npos) {
        return Error::format("field '{}' holds a NUL character (\\u0000, at offset {}), which no path or name "
                             "may hold",
                             field_path(key), nul);
    }
    return text;
}

Result<std::optional<std::string>> JsonObject::optional_string(std::string_view key) const {
    if (!has(key)) {
        return std::optional<std::string>();
    }
    return std::optional<std::string>(TRY(required_string(key)));
}

Result<uint64_t> JsonObject::required_unsigned(std::string_view key, uint64_t minimum, uint64_t maximum) const {
    std::string expected = maximum == UINT64_MAX && minimum == 0
                               ? std::string("a non-negative integer")
                               : fmt::format("an integer from {} to {}", minimum, maximum);
    const nlohmann::json* value = TRY(require(key, expected));
    // nlohmann keeps "-0" as a signed zero, anything non-negative unsigned;
    // fractions, exponents and integers beyond 64 bits become floats.
    bool integer = value->is_number_unsigned() || (value->is_number_integer() && value->get<int64_t>() == 0);
    uint64_t number = integer ? value->get<uint64_t>() : 0;
    if (!integer || number < minimum || number > maximum) {
        return Error::format("field '{}': expected {}, got {}", field_path(key), expected, describe_json(*value));
    }
    return number;
}

Result<std::optional<uint64_t>> JsonObject::optional_unsigned(std::string_view key, uint64_t minimum,
                                                              uint64_t maximum) const {
    if (!has(key)) {
        return std::optional<uint64_t>();
    }
    return std::optional<uint64_t>(TRY(required_unsigned(key, minimum, maximum)));
}

Result<std::optional<bool>> JsonObject::optional_bool(std::string_view key) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr) {
        return std::optional<bool>();
    }
    if (!value->is_boolean()) {
        return Error::format("field '{}': expected true or false, got {}", field_path(key), describe_json(*value));
    }
    return std::optional<bool>(value->get<bool>());
}

Result<size_t> JsonObject::choice(std::string_view key, std::span<const std::string_view> names,
                                  const std::string& value) const {
    auto found = std::find(names.begin(), names.end(), value);
    if (found == names.end()) {
        return Error::format("field '{}': expected one of {}, got {}", field_path(key), fmt::join(names, ", "),
                             describe_json(nlohmann::json(value)));
    }
    return static_cast<size_t>(found - names.begin());
}

}  // namespace skiff::api
