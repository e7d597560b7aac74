#include "vmm/cli_checks.h"

#include "vmm/api/json_model.h"
#include "vmm/cpu_template.h"
#include "vmm/decimal.h"
#include "vmm/parent_directory.h"

#include <sys/un.h>

#include <fmt/format.h>

#include <string>

namespace skiff::cli {

CLI::Validator whole_number(uint64_t minimum, uint64_t maximum, std::string_view unit) {
    return CLI::Validator(
        [=, unit = std::string(unit)](const std::string& text) -> std::string {
            auto value = parse_whole_number(text);
            if (!value) {
                return fmt::format("'{}' is not a whole number of {} (decimal digits, no sign, 0x or leading 0)",
                                   text, unit);
            }
            if (*value < minimum || *value > maximum) {
                return fmt::format("{} is out of range: give {} to {} {}", text, minimum, maximum, unit);
            }
            return {};
        },
        fmt::format("{}..{}", minimum, maximum));
}

CLI::Validator seconds(double maximum) {
    return CLI::Validator(
        [=](const std::string& text) -> std::string {
            auto value = parse_decimal_fraction(text);
            if (!value) {
                return fmt::format("'{}' is not a number of seconds (decimal, e.g. 30 or 0.5)", text);
            }
            if (!(*value > 0) || *value > maximum) {
                return fmt::format("{} is out of range: give more than 0 and at most {:.0f} seconds", text, maximum);
            }
            return {};
        },
        "SECONDS");
}

CLI::Validator in_existing_directory() {
    return CLI::Validator(
        [](const std::string& path) -> std::string {
            if (path.empty()) {
                return "the path is empty";
            }
            auto directory = require_parent_directory(path);
            return directory.ok() ? std::string() : directory.error().message;
        },
        "");
}

CLI::Validator socket_path() {
    return CLI::Validator(
        [](const std::string& path) -> std::string {
            constexpr size_t kMaximum = sizeof(sockaddr_un{}.sun_path) - 1;
            if (path.empty() || path.size() > kMaximum) {
                return fmt::format("'{}' is {} bytes long: a unix socket path takes 1 to {}", path, path.size(),
                                   kMaximum);
            }
            auto directory = require_parent_directory(path);
            return directory.ok() ? std::string() : directory.error().message;
        },
        "");
}

CLI::Validator cpu_template_name() {
    return CLI::Validator(
        [](const std::string& name) -> std::string {
            auto parsed = parse_cpu_template(name);
            return parsed.ok() ? std::string() : parsed.error().message;
        },
        "");
}

CLI::Validator instance_id() {
    return CLI::Validator(
        [](const std::string& id) -> std::string {
            auto checked = api::check_id(id, "the id");
            return checked.ok() ? std::string() : checked.error().message;
        },
        "");
}

CLI::Validator at_most_bytes(uint64_t maximum) {
    return CLI::Validator(
        [=](const std::string& text) -> std::string {
            if (text.size() > maximum) {
                return fmt::format("{} bytes is too long: skiff takes at most {}", text.size(), maximum);
            }
            return {};
        },
        "");
}

}  // namespace skiff::cli
