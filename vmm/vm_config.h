// A validated description of one microVM, produced by the CLI (and later the
// API and config file) and consumed by the machine builder.
#pragma once

#include "boot/layout.h"
#include "net/net_config.h"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff {

// Capture: kept in memory (vmm/console_capture.h), for harnesses and the library.
enum class SerialOutput { Stdio, File, None, Capture };
enum class BootProtocolChoice { Auto, Pvh, Linux64 };
enum class HostQuirkChoice { Auto, On, Off };

struct SerialConfig {
    SerialOutput output = SerialOutput::Stdio;
    std::string path;  // for File
    uint64_t capture_limit = 1024 * 1024;  // for Capture: the last this many bytes are kept
};

// --uid/--gid/--chroot: what skiff becomes once the VM is set up (see
// vmm/privileges.h). uid and gid come together or not at all.
struct Privileges {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::optional<std::string> chroot;  // a directory that exists
    [[nodiscard]] bool any() const { return uid || gid || chroot; }
};

struct VmConfig {
    std::string kernel_path;
    std::optional<std::string> initrd_path;
    std::string cmdline = "console=ttyS0 reboot=k panic=-1";
    uint32_t cpu_count = 1;
    uint64_t memory_mib = 128;
    SerialConfig serial;
    std::optional<std::string> cpu_template;  // name; default chosen by host quirks
    HostQuirkChoice host_quirks = HostQuirkChoice::Auto;
    BootProtocolChoice boot_protocol = BootProtocolChoice::Auto;
    std::optional<double> timeout_seconds;
    std::vector<net::NetConfig> networks;  // --net, in order: net0, net1, ...
    Privileges privileges;                 // dropped after set-up, before the first KVM_RUN
    // Per-thread seccomp filters after set-up (vmm/seccomp.h); --no-seccomp.
    bool seccomp = true;
};

inline constexpr uint32_t kMaxCpus = 64;
// --timeout's: the deadline counts nanoseconds in 64 bits (about 292 years).
inline constexpr double kMaxTimeoutSeconds = 1e9;  // about 31 years
// Without its NUL; a kernel may take fewer (a bzImage's cmdline_size).
inline constexpr uint64_t kMaxCmdlineBytes = layout::kCmdlineMax - 1;
inline constexpr uint64_t kMinMemoryMib = 16;
inline constexpr uint64_t kMaxMemoryMib = 256 * 1024;

}  // namespace skiff
