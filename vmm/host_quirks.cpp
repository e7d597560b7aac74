#include "vmm/host_quirks.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace skiff {

namespace {

constexpr std::string_view kEmulatingModule = "kvm_pvm";

// For Linux guests on a host that emulates kernel mode. KVM_SET_CPUID2 is
// not enough there (the guest kernel still saw XSAVE, POPCNT and SMAP), so
// the kernel is told directly. clearcpuid takes Linux's feature numbers,
// word * 32 + bit: word 9 is CPUID 7.0 EBX (308 SMAP, 288 FSGSBASE,
// 306 RDSEED), word 4 is CPUID 1 ECX (151 POPCNT, 158 RDRAND).
constexpr std::array<std::string_view, 2> kLinuxParameters = {
    "noxsave",
    "clearcpuid=308,288,151,158,306",
};

constexpr std::string_view kCompletedInstructions = "int3, clac/stac, popcnt, cmpxchg8b/16b, fnclex, emms";

bool is_blank(char character) { return std::isspace(static_cast<unsigned char>(character)) != 0; }

struct Word {
    size_t offset;
    size_t length;
};

// Splits as the kernel's next_arg() does; stops before "--", whose offset
// goes to `end_of_parameters`.
std::vector<Word> split_words(std::string_view cmdline, size_t* end_of_parameters) {
    std::vector<Word> words;
    size_t position = 0;
    *end_of_parameters = cmdline.size();
    while (true) {
        while (position < cmdline.size() && is_blank(cmdline[position])) {
            ++position;
        }
        if (position >= cmdline.size()) {
            break;
        }
        size_t start = position;
        bool in_quote = false;
        while (position < cmdline.size() && (in_quote || !is_blank(cmdline[position]))) {
            if (cmdline[position] == '"') {
                in_quote = !in_quote;
            }
            ++position;
        }
        std::string_view word = cmdline.substr(start, position - start);
        std::string unquoted;
        for (char character : word) {
            if (character != '"') {
                unquoted += character;
            }
        }
        if (unquoted == "--") {
            *end_of_parameters = start;
            break;
        }
        words.push_back({start, position - start});
    }
    return words;
}

std::string join(const std::vector<std::string_view>& words) {
    std::string text;
    for (std::string_view word : words) {
        if (!text.empty()) {
            text += ' ';
        }
        text += word;
    }
    return text;
}

}  // namespace

bool SysfsHostProbe::module_loaded(std::string_view name) const {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
        return false;
    }
    std::string path = "/sys/module/";
    path += name;
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

Result<QuirkMode> parse_quirk_mode(std::string_view text) {
    for (QuirkMode mode : {QuirkMode::Auto, QuirkMode::On, QuirkMode::Off}) {
        if (text == quirk_mode_name(mode)) {
            return mode;
        }
    }
    return Error::format("unknown --host-quirks value '{}': expected auto, on or off", text);
}

std::string_view quirk_mode_name(QuirkMode mode) {
    switch (mode) {
        case QuirkMode::Auto: return "auto";
        case QuirkMode::On: return "on";
        case QuirkMode::Off: break;
    }
    return "off";
}

HostQuirks detect_host_quirks(const HostProbe& probe, QuirkMode mode) {
    switch (mode) {
        case QuirkMode::On:
            return {true, "forced with --host-quirks on"};
        case QuirkMode::Off:
            if (probe.module_loaded(kEmulatingModule)) {
                return {false, fmt::format("disabled with --host-quirks off although the {} module is loaded",
                                           kEmulatingModule)};
            }
            return {false, "disabled with --host-quirks off"};
        case QuirkMode::Auto:
            break;
    }
    if (probe.module_loaded(kEmulatingModule)) {
        return {true, fmt::format("the {} module is loaded: KVM emulates guest kernel mode", kEmulatingModule)};
    }
    return {false, fmt::format("no {} module: KVM uses hardware virtualisation", kEmulatingModule)};
}

CpuTemplate QuirkPolicy::default_cpu_template() const {
    return quirks_.kernel_mode_emulated ? CpuTemplate::EmulatedKernel : CpuTemplate::Host;
}

Result<CpuTemplate> QuirkPolicy::cpu_template(std::string_view user_choice) const {
    if (user_choice.empty()) {
        return default_cpu_template();
    }
    return parse_cpu_template(user_choice);
}

std::string QuirkPolicy::linux_cmdline_additions(std::string_view existing_cmdline) const {
    if (!quirks_.kernel_mode_emulated) {
        return {};
    }
    std::vector<std::string> present;
    for (std::string_view word : kernel_parameter_words(existing_cmdline)) {
        present.push_back(kernel_parameter_name(word));
    }
    std::vector<std::string_view> additions;
    for (std::string_view parameter : kLinuxParameters) {
        std::string name = kernel_parameter_name(parameter);
        if (std::find(present.begin(), present.end(), name) == present.end()) {
            additions.push_back(parameter);
        }
    }
    return join(additions);
}

std::string insert_kernel_parameters(std::string_view existing_cmdline, std::string_view parameters) {
    if (parameters.empty()) {
        return std::string(existing_cmdline);
    }
    size_t end_of_parameters = 0;
    split_words(existing_cmdline, &end_of_parameters);
    std::string_view before = existing_cmdline.substr(0, end_of_parameters);
    std::string_view after = existing_cmdline.substr(end_of_parameters);
    while (!before.empty() && is_blank(before.back())) {
        before.remove_suffix(1);
    }
    std::string result(before);
    if (!result.empty()) {
        result += ' ';
    }
    result += parameters;
    if (!after.empty()) {
        result += ' ';
        result += after;
    }
    return result;
}

std::string QuirkPolicy::linux_cmdline_with_additions(std::string_view existing_cmdline) const {
    return insert_kernel_parameters(existing_cmdline, linux_cmdline_additions(existing_cmdline));
}

std::string QuirkPolicy::summary(CpuTemplate cpu_template, std::string_view cmdline_additions) const {
    if (!quirks_.kernel_mode_emulated) {
        return fmt::format("no host quirks ({}); CPU template {}", quirks_.reason, cpu_template_name(cpu_template));
    }
    std::string text = fmt::format("host quirks on ({}); CPU template {}", quirks_.reason,
                                   cpu_template_name(cpu_template));
    if (cpu_template != CpuTemplate::EmulatedKernel) {
        text += " (chosen by the user: the guest kernel may run instructions the emulator refuses)";
    }
    text += cmdline_additions.empty() ? "; kernel parameters: none added"
                                      : fmt::format("; kernel parameters added: {}", cmdline_additions);
    text += fmt::format("; skiff completes {}", kCompletedInstructions);
    return text;
}

std::vector<std::string_view> kernel_parameter_words(std::string_view cmdline) {
    size_t end_of_parameters = 0;
    std::vector<std::string_view> words;
    for (const Word& word : split_words(cmdline, &end_of_parameters)) {
        words.push_back(cmdline.substr(word.offset, word.length));
    }
    return words;
}

std::string kernel_parameter_name(std::string_view word) {
    std::string name;
    for (char character : word) {
        if (character == '=') {
            break;
        }
        if (character == '"') {
            continue;
        }
        name += character == '-' ? '_' : character;
    }
    return name;
}

}  // namespace skiff
