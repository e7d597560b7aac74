// A recording stand-in for the kernel at KernelVhostNet's ioctl seam: each
// call is kept with its request number and its argument decoded from the
// C layout (vhost_vring_state/file/addr, the memory table); GET_FEATURES
// and GET_VRING_BASE answer with fields the test sets; a request can be
// made to fail.
#pragma once

#include "devices/virtio/vhost/vhost_abi.h"
#include "devices/virtio/vhost/vhost_kernel.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace skiff::testing {

struct VhostCall {
    unsigned long request = 0;
    int fd = -1;
    uint32_t index = 0;     // vring state/file/addr
    int64_t value = 0;      // features, vring num/base, file fd
    vhost::VringAddresses addresses;
    std::vector<vhost::MemoryRegion> regions;
};

inline std::string vhost_request_name(unsigned long request) {
    using namespace vhost::abi;
    static const std::map<unsigned long, std::string> names = {
        {kGetFeatures, "GET_FEATURES"},     {kSetFeatures, "SET_FEATURES"},     {kSetOwner, "SET_OWNER"},
        {kSetMemTable, "SET_MEM_TABLE"},    {kSetVringNum, "SET_VRING_NUM"},    {kSetVringAddr, "SET_VRING_ADDR"},
        {kSetVringBase, "SET_VRING_BASE"},  {kGetVringBase, "GET_VRING_BASE"},  {kSetVringKick, "SET_VRING_KICK"},
        {kSetVringCall, "SET_VRING_CALL"},  {kNetSetBackend, "NET_SET_BACKEND"},
    };
    auto found = names.find(request);
    return found == names.end() ? "unknown" : found->second;
}

class VhostRecorder {
public:
    uint64_t features = 0;
    uint32_t vring_base = 0;
    std::map<unsigned long, int> fail;  // request -> errno
    std::vector<VhostCall> calls;

    vhost::IoctlFunction ioctl() {
        return [this](int fd, unsigned long request, void* arg) { return handle(fd, request, arg); };
    }
    // A KernelVhostNet over /dev/null talking to this recorder.
    std::unique_ptr<vhost::KernelVhostNet> backend() {
        return std::make_unique<vhost::KernelVhostNet>(UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC)), ioctl());
    }
    std::vector<std::string> names() const {
        std::vector<std::string> result;
        for (const VhostCall& call : calls) {
            result.push_back(vhost_request_name(call.request));
        }
        return result;
    }
    std::vector<VhostCall> of(unsigned long request) const {
        std::vector<VhostCall> result;
        for (const VhostCall& call : calls) {
            if (call.request == request) {
                result.push_back(call);
            }
        }
        return result;
    }

private:
    int handle(int fd, unsigned long request, void* arg) {
        using namespace vhost::abi;
        VhostCall call;
        call.request = request;
        call.fd = fd;
        if (request == kGetFeatures) {
            std::memcpy(arg, &features, sizeof(features));
        } else if (request == kSetFeatures) {
            uint64_t value = 0;
            std::memcpy(&value, arg, sizeof(value));
            call.value = static_cast<int64_t>(value);
        } else if (request == kSetMemTable) {
            MemoryHeader header{};
            std::memcpy(&header, arg, sizeof(header));
            const auto* bytes = static_cast<const std::byte*>(arg) + sizeof(header);
            for (uint32_t i = 0; i < header.nregions; ++i) {
                MemoryRegion region{};
                std::memcpy(&region, bytes + i * sizeof(region), sizeof(region));
                call.regions.push_back({region.guest_phys_addr, region.memory_size, region.userspace_addr});
                call.value |= static_cast<int64_t>(region.flags_padding);  // must stay 0
            }
        } else if (request == kSetVringNum || request == kSetVringBase || request == kGetVringBase) {
            vhost_vring_state state{};
            std::memcpy(&state, arg, sizeof(state));
            call.index = state.index;
            call.value = state.num;
            if (request == kGetVringBase) {
                state.num = vring_base;
                std::memcpy(arg, &state, sizeof(state));
            }
        } else if (request == kSetVringKick || request == kSetVringCall || request == kNetSetBackend) {
            vhost_vring_file file{};
            std::memcpy(&file, arg, sizeof(file));
            call.index = file.index;
            call.value = file.fd;
        } else if (request == kSetVringAddr) {
            vhost_vring_addr addr{};
            std::memcpy(&addr, arg, sizeof(addr));
            call.index = addr.index;
            call.addresses = {addr.desc_user_addr, addr.used_user_addr, addr.avail_user_addr, addr.log_guest_addr,
                              addr.flags};
        }
        calls.push_back(call);
        auto failing = fail.find(request);
        if (failing != fail.end()) {
            errno = failing->second;
            return -1;
        }
        return 0;
    }
};

}  // namespace skiff::testing
