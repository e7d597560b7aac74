// A VM's whole life, repeated in one process (what a runtime embedding
// libskiff does): every fd, thread and network interface it took is given
// back when it ends, whether the guest served the network or was stopped
// while booting.
#include "running_vm.h"

#include "net/net_config.h"

#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using skiff::test::testguest_config;

namespace {

std::size_t entries(const char* directory) {
    auto range = std::filesystem::directory_iterator(directory);
    return static_cast<std::size_t>(std::distance(begin(range), end(range)));
}

struct Usage {
    std::size_t fds;
    std::size_t threads;
};

Usage usage() { return {entries("/proc/self/fd"), entries("/proc/self/task")}; }

}  // namespace

TEST_CASE("a VM's whole life gives back every fd, thread and interface", "[kvm][resources]") {
    // The tap skiff creates lives in a network namespace of this test's
    // own: a thread unshares one, and the VMs' threads, started from it,
    // inherit it. Without root only the VMs without a NIC run.
    const bool with_network = ::geteuid() == 0;
    constexpr int kLives = 6;
    std::string failure;
    std::vector<std::string> figures;
    std::thread owner([&] {
        if (with_network && ::unshare(CLONE_NEWNET) != 0) {
            failure = "unshare(CLONE_NEWNET) failed";
            return;
        }
        const Usage before = usage();
        figures.push_back("before: " + std::to_string(before.fds) + " fds, " + std::to_string(before.threads) +
                          " threads");
        for (int life = 0; life < kLives && failure.empty(); ++life) {
            auto config = testguest_config("");
            if (with_network) {
                config.cmdline += " ip=10.0.11.2::10.0.11.1:255.255.255.0";
                auto net = skiff::net::parse_net_config(life % 2 == 0 ? "mode=tap,ifname=skleak0"
                                                                       : "mode=tap,ifname=skleak0,transport=pci");
                if (!net.ok()) {
                    failure = net.error().message;
                    return;
                }
                config.networks.push_back(*net);
            }
            {
                auto built = skiff::Machine::build(config, skiff::Machine::Clock::now(), skiff::embedded_testguest());
                if (!built.ok()) {
                    failure = "life " + std::to_string(life) + ": " + built.error().message;
                    return;
                }
                skiff::Machine& machine = **built;
                auto finished = std::async(std::launch::async, [&machine] { return machine.run(); });
                // Every third life is stopped while it boots.
                if (life % 3 != 2) {
                    std::string_view ready = with_network ? "network ready" : "shutting down";
                    if (!machine.console_capture()->wait_for(ready, 30s)) {
                        failure = "life " + std::to_string(life) + ": no '" + std::string(ready) + "'";
                    }
                }
                if (with_network && ::if_nametoindex("skleak0") == 0) {
                    failure = "life " + std::to_string(life) + ": no tap skleak0 while the VM runs";
                }
                machine.lifecycle().request_stop(skiff::ExitStatus::GuestShutdown, "test over");
                if (finished.wait_for(10s) != std::future_status::ready) {
                    failure = "life " + std::to_string(life) + ": the VM did not stop";
                    return;  // (the future's destructor waits on)
                }
            }
            const Usage after = usage();
            figures.push_back(std::to_string(after.fds) + " fds, " + std::to_string(after.threads) + " threads");
            if (after.fds != before.fds || after.threads != before.threads) {
                failure = "life " + std::to_string(life) + ": " + std::to_string(after.fds) + " fds and " +
                          std::to_string(after.threads) + " threads after, " + std::to_string(before.fds) +
                          " and " + std::to_string(before.threads) + " before";
            }
            if (with_network && ::if_nametoindex("skleak0") != 0) {
                failure = "life " + std::to_string(life) + ": tap skleak0 left behind";
            }
        }
    });
    owner.join();
    for (const auto& figure : figures) {
        INFO(figure);
    }
    if (!figures.empty()) {
        WARN((with_network ? "with a tap" : "without a NIC (not root)")
             << ": " << figures.size() - 1 << " lives; " << figures.front() << "; after the last: " << figures.back());
    }
    CHECK(failure == "");
}
