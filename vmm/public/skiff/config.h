// What a microVM is made of, in the shape of Firecracker's API (the same
// field names, so that a JSON body or config file maps onto these one to
// one), plus skiff's own network fields. Plain data, standard library only:
// this header is installed with libskiff and is shared by the library
// (skiff/skiff.h), the REST API and the config file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff {

// The outcome of an operation: ok, or a message naming the cause and, where
// there is one, the fix.
class [[nodiscard]] Status {
public:
    Status() = default;
    static Status failure(std::string message) { return Status(std::move(message), true); }

    [[nodiscard]] bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    [[nodiscard]] const std::string& message() const { return message_; }

private:
    Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
    std::string message_;
    bool failed_ = false;
};

// PUT /boot-source.
struct BootSource {
    std::string kernel_image_path;  // empty: skiff's embedded test guest
    std::optional<std::string> boot_args;  // unset: "console=ttyS0 reboot=k panic=-1"
    std::optional<std::string> initrd_path;
};

// PUT /machine-config.
struct MachineConfig {
    uint32_t vcpu_count = 1;      // 1..32
    uint32_t mem_size_mib = 128;  // 16..262144
    bool smt = false;             // accepted; skiff's vCPUs are one thread per core
    // "None" (the host's CPU, filtered) or a template skiff knows ("host",
    // "baseline", "emulated-kernel"; see README); unset: chosen for the host.
    std::optional<std::string> cpu_template;
    bool track_dirty_pages = false;  // accepted; dirty tracking is not implemented (false only)
};

// One token bucket (Firecracker's TokenBucket): `size` tokens, refilled
// completely over `refill_time` milliseconds, plus a one-time burst.
struct TokenBucket {
    uint64_t size = 0;
    std::optional<uint64_t> one_time_burst;
    uint64_t refill_time = 0;  // ms
};

// Firecracker's RateLimiter: bytes (bandwidth) and frames (ops).
struct RateLimiter {
    std::optional<TokenBucket> bandwidth;
    std::optional<TokenBucket> ops;
};

// PUT /network-interfaces/{iface_id}. The first six fields are Firecracker's;
// the rest are skiff's own (see README, "The API's network fields").
struct NetworkInterface {
    std::string iface_id;
    // mode tap/vhost: the tap (opened, or created if absent); macvtap: the
    // macvtap interface (used, or created on `link`); vfio: the function's
    // PCI address unless pf/vf are given.
    std::string host_dev_name;
    std::optional<std::string> guest_mac;
    std::optional<uint32_t> mtu;
    std::optional<RateLimiter> rx_rate_limiter;
    std::optional<RateLimiter> tx_rate_limiter;

    std::string mode = "tap";         // tap | vhost | macvtap | vfio
    std::string transport = "mmio";   // mmio | pci (vfio: pci)
    std::optional<std::string> bridge;        // tap/vhost: add the tap to this bridge
    std::optional<std::string> link;          // macvtap: the lower interface
    std::optional<std::string> macvtap_mode;  // bridge | vepa | private | passthru
    std::optional<bool> vhost;                // macvtap: the kernel's data path
    std::optional<std::string> pf;            // vfio: the physical function's interface...
    std::optional<uint32_t> vf;               // ...and the VF's number
};

// PATCH /network-interfaces/{iface_id}: new rate limits at run time; an
// absent limiter is left as it is.
struct NetworkInterfaceUpdate {
    std::string iface_id;
    std::optional<RateLimiter> rx_rate_limiter;
    std::optional<RateLimiter> tx_rate_limiter;
};

// PUT /logger.
struct LoggerConfig {
    std::optional<std::string> log_path;  // unset: standard error
    std::optional<std::string> level;     // Error | Warning | Info | Debug | Trace | Off
    std::optional<bool> show_level;
    std::optional<bool> show_log_origin;
    std::optional<std::string> module;
};

// PUT /metrics: where the JSON lines go (a file or a named pipe).
struct MetricsConfig {
    std::string metrics_path;
};

// GET /vm/config, and a config file (--config-file).
struct VmResources {
    std::optional<BootSource> boot_source;
    MachineConfig machine_config;
    std::vector<NetworkInterface> network_interfaces;
    std::optional<LoggerConfig> logger;
    std::optional<MetricsConfig> metrics;
};

enum class VmState { NotStarted, Running, Paused, Stopped };

// "Not started", "Running", "Paused" (Firecracker's InstanceInfo.state);
// skiff adds "Stopped" for a VM whose guest has ended.
inline const char* vm_state_name(VmState state) {
    switch (state) {
        case VmState::NotStarted: return "Not started";
        case VmState::Running: return "Running";
        case VmState::Paused: return "Paused";
        case VmState::Stopped: return "Stopped";
    }
    return "Unknown";
}

// Packet counters of one interface since the VM started, in the guest's
// directions (rx: frames to the guest), bytes without the virtio-net
// header. In vhost mode the kernel moves the packets: the counters are the
// kernel's statistics of the tap or macvtap, read through /sys/class/net
// (zero, with a warning at start, when /sys shows another network
// namespace than skiff's); rx_throttled and tx_throttled stay zero there.
struct InterfaceStats {
    std::string iface_id;
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t rx_dropped = 0;
    uint64_t rx_throttled = 0;  // times the rx rate limiter made frames wait
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t tx_dropped = 0;
    uint64_t tx_throttled = 0;
};

// How a VM ended: the skiff process exit status it maps to (0 guest shut
// down or stopped, 3 guest crash, 4 KVM error, 5 timeout, 1 start-up
// error; README "Exit status") and why. (A system call outside a skiff
// thread's seccomp filter ends the whole process with status 6.)
struct ExitInfo {
    int status = 0;
    std::string reason;
};

}  // namespace skiff
