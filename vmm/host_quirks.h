// Hosts whose KVM runs guest user mode natively but emulates guest kernel
// mode instruction by instruction (the `kvm_pvm` module: nested KVM without
// hardware virtualisation). Its emulator refuses cmpxchg16b, xrstor, popcnt,
// clac/stac, int3 and the AMD FPU path's fnclex/emms, and it honours
// KVM_SET_CPUID2 only in part. On such a host skiff combines what works: a
// CPU template (vmm/cpu_template.h), Linux parameters, and completing the
// refused instructions itself (vmm/instruction_completion.h). On ordinary
// hardware none of it applies.
#pragma once

#include "vmm/cpu_template.h"
#include "vmm/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace skiff {

// What skiff asks the host; injectable so tests need no such host.
class HostProbe {
public:
    virtual ~HostProbe() = default;
    // True when the kernel module `name` is loaded (or built in with a
    // /sys/module entry).
    [[nodiscard]] virtual bool module_loaded(std::string_view name) const = 0;
};

// Looks for /sys/module/<name>.
class SysfsHostProbe final : public HostProbe {
public:
    [[nodiscard]] bool module_loaded(std::string_view name) const override;
};

// --host-quirks auto|on|off.
enum class QuirkMode { Auto, On, Off };

[[nodiscard]] Result<QuirkMode> parse_quirk_mode(std::string_view text);
[[nodiscard]] std::string_view quirk_mode_name(QuirkMode mode);

struct HostQuirks {
    bool kernel_mode_emulated = false;
    std::string reason;  // why, for the log: detected, forced or disabled
};

[[nodiscard]] HostQuirks detect_host_quirks(const HostProbe& probe, QuirkMode mode = QuirkMode::Auto);

// What to do about the quirks.
class QuirkPolicy {
public:
    explicit QuirkPolicy(HostQuirks quirks) : quirks_(std::move(quirks)) {}

    [[nodiscard]] const HostQuirks& quirks() const { return quirks_; }
    // Whether skiff completes the instructions KVM's emulator refuses.
    [[nodiscard]] bool complete_refused_instructions() const { return quirks_.kernel_mode_emulated; }

    // emulated-kernel when kernel mode is emulated, host otherwise.
    [[nodiscard]] CpuTemplate default_cpu_template() const;
    // The user's --cpu-template when given (parsed), else the default.
    [[nodiscard]] Result<CpuTemplate> cpu_template(std::string_view user_choice) const;

    // Linux parameters to add for this host ("noxsave clearcpuid=..."),
    // without those the command line already has (by parameter name, so a
    // user's own clearcpuid= wins). Empty on ordinary hosts.
    [[nodiscard]] std::string linux_cmdline_additions(std::string_view existing_cmdline) const;
    // `existing_cmdline` with the additions in place: before a "--" (words
    // after it go to init, not the kernel), else at the end.
    [[nodiscard]] std::string linux_cmdline_with_additions(std::string_view existing_cmdline) const;

    // One line for the log: why, the CPU template in use, the parameters
    // added (for a Linux guest) and the instructions completed.
    [[nodiscard]] std::string summary(CpuTemplate cpu_template, std::string_view cmdline_additions) const;

private:
    HostQuirks quirks_;
};

// The words of a Linux command line as the kernel splits them: blanks
// separate, double quotes group. Stops before a "--" word.
[[nodiscard]] std::vector<std::string_view> kernel_parameter_words(std::string_view cmdline);
// A parameter's name: the part before '=', quotes removed, '-' read as '_'
// (the kernel treats them alike).
[[nodiscard]] std::string kernel_parameter_name(std::string_view word);

// `parameters` inserted after the kernel's own parameters of `cmdline`,
// before any `--` that starts the arguments for init.
[[nodiscard]] std::string insert_kernel_parameters(std::string_view cmdline, std::string_view parameters);

}  // namespace skiff
