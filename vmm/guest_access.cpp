#include "vmm/guest_access.h"

#include <algorithm>

namespace skiff {

namespace {
constexpr uint64_t kPageSize = 4096;
}

Result<void> VcpuGuestAccess::read_virtual(uint64_t address, std::span<std::byte> bytes) {
    while (!bytes.empty()) {
        size_t chunk = std::min<uint64_t>(bytes.size(), kPageSize - (address % kPageSize));
        uint64_t physical = TRY(vcpu_.translate(address));
        TRY(memory_.read(GuestAddress(physical), bytes.first(chunk)));
        bytes = bytes.subspan(chunk);
        address += chunk;
    }
    return {};
}

Result<void> VcpuGuestAccess::write_virtual(uint64_t address, std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
        size_t chunk = std::min<uint64_t>(bytes.size(), kPageSize - (address % kPageSize));
        uint64_t physical = TRY(vcpu_.translate(address));
        TRY(memory_.write(GuestAddress(physical), bytes.first(chunk)));
        bytes = bytes.subspan(chunk);
        address += chunk;
    }
    return {};
}

Result<bool> VcpuGuestAccess::compare_exchange_virtual(uint64_t address, std::span<std::byte> expected,
                                                       std::span<const std::byte> desired) {
    if (expected.size() != desired.size() || (address % kPageSize) + expected.size() > kPageSize) {
        return Error::format("compare-exchange of {} bytes at {:#x} crosses a page", expected.size(), address);
    }
    uint64_t physical = TRY(vcpu_.translate(address));
    auto host = TRY(memory_.slice(GuestAddress(physical), expected.size()));
    return host_compare_exchange(host.data(), expected, desired);
}

}  // namespace skiff
