// Runs the Machine tests, or exits 77 (skipped) when this host has no
// usable /dev/kvm.
#define CATCH_CONFIG_RUNNER
#include "vmm/kvm.h"

#include <catch2/catch.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    Catch::Session session;
    if (int status = session.applyCommandLine(argc, argv); status != 0) {
        return status;
    }
    bool listing = session.configData().listTests || session.configData().listTestNamesOnly ||
                   session.configData().listTags || session.configData().showHelp;
    if (!listing) {
        auto kvm = skiff::Kvm::open();
        if (!kvm.ok()) {
            std::fprintf(stderr, "SKIP: no usable KVM: %s\n", kvm.error().message.c_str());
            return 77;
        }
    }
    return session.run();
}
