// The checks of single flag values, as CLI11 validators: each returns ""
// for a good value or a message that CLI11 puts after the flag's name
// ("--memory: 'abc' is not a whole number of MiB"), and parse_command_line
// exits 2 with it before anything is created.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string_view>

namespace skiff::cli {

// Plain decimal digits (vmm/decimal.h) in [minimum, maximum] `unit`s.
CLI::Validator whole_number(uint64_t minimum, uint64_t maximum, std::string_view unit);

// Decimal seconds ("2", "0.5"), above 0 and at most `maximum`.
CLI::Validator seconds(double maximum);

// A file skiff creates (a log, a console file): its directory must exist.
CLI::Validator in_existing_directory();

// A unix socket path: 1 to 107 bytes (sun_path), in an existing directory.
CLI::Validator socket_path();

// host, baseline or emulated-kernel (vmm/cpu_template.h).
CLI::Validator cpu_template_name();

// The microVM's id (--id): the API's rule for ids (1 to 64 letters,
// digits, '_' or '-'), since GET / and the metrics report it.
CLI::Validator instance_id();

// At most `maximum` bytes.
CLI::Validator at_most_bytes(uint64_t maximum);

}  // namespace skiff::cli
