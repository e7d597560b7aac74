// Runs the tap and interface tests, each in a network namespace of its
// own, or exits 77 (skipped) when this host cannot: no permission to make
// a network namespace, no /dev/net/tun, or no CAP_NET_ADMIN to create taps.
#define CATCH_CONFIG_RUNNER
#include "net_test_support.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

constexpr int kSkipped = 77;

// Empty when taps can be tested here, else why not.
std::string missing_prerequisite() {
    // First of all: out of the host's namespace, so nothing below (or in
    // any test) can touch the host's interfaces.
    if (auto error = skiff::test::enter_fresh_network_namespace(); !error.empty()) {
        return error;
    }
    int tun = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun < 0) {
        return std::string("/dev/net/tun: ") + std::strerror(errno);
    }
    ifreq request{};
    std::strcpy(request.ifr_name, "skiff-probe");
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    int result = ::ioctl(tun, TUNSETIFF, &request);
    int error = errno;
    ::close(tun);
    if (result < 0) {
        return std::string("creating a tap (needs CAP_NET_ADMIN): ") + std::strerror(error);
    }
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    Catch::Session session;
    if (int status = session.applyCommandLine(argc, argv); status != 0) {
        return status;
    }
    bool listing = session.configData().listTests || session.configData().listTestNamesOnly ||
                   session.configData().listTags || session.configData().showHelp;
    if (!listing) {
        if (auto missing = missing_prerequisite(); !missing.empty()) {
            std::fprintf(stderr, "SKIP: tap tests cannot run here: %s\n", missing.c_str());
            return kSkipped;
        }
    }
    return session.run();
}
