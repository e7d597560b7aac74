// A stand-in for /sys/class/net in a temporary directory: one interface's
// ifindex, address and statistics/* files, rewritten in place (same inode,
// so an fd opened on them sees the new text, as on sysfs). Tests name a
// real interface of this namespace ("lo": ifindex 1, MAC 00:...:00) so
// that KernelLinkCounters' identity check can pass or fail on purpose.
#pragma once

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace skiff::test {

class FakeLinkSysfs {
public:
    explicit FakeLinkSysfs(const std::string& interface, const std::string& ifindex = "1",
                           const std::string& address = "00:00:00:00:00:00")
        : interface_(interface) {
        char pattern[] = "/tmp/skiff-link-sysfs-XXXXXX";
        REQUIRE(::mkdtemp(pattern) != nullptr);
        root_ = pattern;
        std::filesystem::create_directories(root_ / interface / "statistics");
        write("ifindex", ifindex);
        write("address", address);
        for (const char* name : {"rx_packets", "rx_bytes", "rx_dropped", "rx_frame_errors", "tx_packets",
                                 "tx_bytes", "tx_dropped"}) {
            set(name, 0);
        }
    }
    ~FakeLinkSysfs() {
        std::error_code ignored;
        std::filesystem::remove_all(root_, ignored);
    }
    FakeLinkSysfs(const FakeLinkSysfs&) = delete;
    FakeLinkSysfs& operator=(const FakeLinkSysfs&) = delete;

    // The directory to pass as KernelLinkCounters::open's `sysfs_net`.
    [[nodiscard]] std::string directory() const { return root_.string(); }
    // statistics/NAME := value (with sysfs's trailing newline).
    void set(const std::string& statistic, uint64_t value) {
        write("statistics/" + statistic, std::to_string(value) + "\n");
    }
    // Any file under the interface's directory, rewritten in place.
    void write(const std::string& relative, const std::string& text) {
        std::string path = (root_ / interface_ / relative).string();
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        ::close(fd);
    }
    void remove(const std::string& relative) { std::filesystem::remove(root_ / interface_ / relative); }

private:
    std::string interface_;
    std::filesystem::path root_;
};

}  // namespace skiff::test
