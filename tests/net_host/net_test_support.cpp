#include "net_test_support.h"

#include "net/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/veth.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace skiff::test {

namespace {

std::string failure(std::string_view what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

ifreq request_for(const std::string& name) {
    ifreq request{};
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    return request;
}

sockaddr inet_address(const char* text) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    ::inet_pton(AF_INET, text, &address.sin_addr);
    sockaddr generic{};
    std::memcpy(&generic, &address, sizeof(address));
    return generic;
}

std::string socket_ioctl(unsigned long command, void* argument, std::string_view what) {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!socket_fd.valid() || ::ioctl(socket_fd.get(), command, argument) < 0) {
        return failure(what);
    }
    return {};
}

void put16(Bytes& bytes, size_t at, uint16_t value) {
    bytes[at] = static_cast<uint8_t>(value >> 8);
    bytes[at + 1] = static_cast<uint8_t>(value);
}

void put32(Bytes& bytes, size_t at, uint32_t value) {
    put16(bytes, at, static_cast<uint16_t>(value >> 16));
    put16(bytes, at + 2, static_cast<uint16_t>(value));
}

// 12-byte zeroed virtio-net header + Ethernet header.
Bytes ethernet(const net::MacAddress& destination, const net::MacAddress& source, uint16_t type, size_t payload) {
    Bytes frame(net::kVnetHeaderSize + kEthernetHeader + payload, 0);
    size_t at = net::kVnetHeaderSize;
    std::copy(destination.bytes.begin(), destination.bytes.end(), frame.begin() + static_cast<long>(at));
    std::copy(source.bytes.begin(), source.bytes.end(), frame.begin() + static_cast<long>(at + 6));
    put16(frame, at + 12, type);
    return frame;
}

void put_ipv4_header(Bytes& frame, uint8_t protocol, const char* source, const char* destination, size_t payload) {
    size_t at = net::kVnetHeaderSize + kEthernetHeader;
    frame[at] = 0x45;
    put16(frame, at + 2, static_cast<uint16_t>(kIpv4Header + payload));
    put16(frame, at + 4, 0x1234);  // identification
    put16(frame, at + 6, 0x4000);  // don't fragment
    frame[at + 8] = 64;
    frame[at + 9] = protocol;
    put32(frame, at + 12, ipv4(source));
    put32(frame, at + 16, ipv4(destination));
    put16(frame, at + 10, internet_checksum(std::span(frame).subspan(at, kIpv4Header)));
}

}  // namespace

std::string enter_fresh_network_namespace() {
    if (::unshare(CLONE_NEWNET) != 0) {
        return failure("unshare(CLONE_NEWNET) (needs CAP_SYS_ADMIN)");
    }
    // IPv6 would add router solicitations and DAD probes to what the tap
    // reads; the tests filter frames anyway, this just keeps them quiet.
    int fd = ::open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        [[maybe_unused]] auto written = ::write(fd, "1", 1);
        ::close(fd);
    }
    return {};
}

std::string set_ipv4_address(const std::string& name, const char* address, const char* netmask) {
    auto request = request_for(name);
    request.ifr_addr = inet_address(address);
    if (auto error = socket_ioctl(SIOCSIFADDR, &request, "SIOCSIFADDR"); !error.empty()) {
        return error;
    }
    request.ifr_netmask = inet_address(netmask);
    return socket_ioctl(SIOCSIFNETMASK, &request, "SIOCSIFNETMASK");
}

std::string add_static_arp(const std::string& name, const char* address, const net::MacAddress& mac) {
    arpreq request{};
    request.arp_pa = inet_address(address);
    request.arp_ha.sa_family = ARPHRD_ETHER;
    std::memcpy(request.arp_ha.sa_data, mac.bytes.data(), mac.bytes.size());
    request.arp_flags = ATF_PERM | ATF_COM;
    std::strncpy(request.arp_dev, name.c_str(), sizeof(request.arp_dev) - 1);
    return socket_ioctl(SIOCSARP, &request, "SIOCSARP");
}

std::string create_bridge(const std::string& name) {
    char bridge_name[IFNAMSIZ] = {};
    std::strncpy(bridge_name, name.c_str(), IFNAMSIZ - 1);
    return socket_ioctl(SIOCBRADDBR, bridge_name, "SIOCBRADDBR");
}

std::string delete_link(const std::string& name) {
    UniqueFd socket_fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!socket_fd.valid()) {
        return failure("netlink socket");
    }
    struct {
        nlmsghdr header;
        ifinfomsg info;
    } request{};
    request.header.nlmsg_len = sizeof(request);
    request.header.nlmsg_type = RTM_DELLINK;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.info.ifi_family = AF_UNSPEC;
    request.info.ifi_index = static_cast<int>(::if_nametoindex(name.c_str()));
    if (request.info.ifi_index == 0) {
        return failure("if_nametoindex " + name);
    }
    if (::send(socket_fd.get(), &request, sizeof(request), 0) < 0) {
        return failure("RTM_DELLINK");
    }
    struct {
        nlmsghdr header;
        nlmsgerr error;
    } reply{};
    if (::recv(socket_fd.get(), &reply, sizeof(reply), 0) < static_cast<ssize_t>(sizeof(reply)) ||
        reply.header.nlmsg_type != NLMSG_ERROR) {
        return "RTM_DELLINK: no acknowledgement";
    }
    if (reply.error.error != 0) {
        return std::string("RTM_DELLINK: ") + std::strerror(-reply.error.error);
    }
    return {};
}

std::string create_veth_pair(const std::string& name, const std::string& peer) {
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    net::NetlinkMessage request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    request.append_header(header);
    request.put_string(IFLA_IFNAME, name);
    size_t link_info = request.begin_nested(IFLA_LINKINFO);
    request.put_string(IFLA_INFO_KIND, "veth");
    size_t data = request.begin_nested(IFLA_INFO_DATA);
    size_t peer_info = request.begin_nested(VETH_INFO_PEER);
    request.append_header(header);  // the peer's ifinfomsg leads its attributes
    request.put_string(IFLA_IFNAME, peer);
    request.end_nested(peer_info);
    request.end_nested(data);
    request.end_nested(link_info);
    auto result = net::netlink_transact(request);
    if (!result.ok()) {
        return result.error().message;
    }
    return *result == 0 ? std::string() : fmt::format("RTM_NEWLINK veth {}: {}", name, std::strerror(*result));
}

std::string mount_sysfs_for_this_network_namespace() {
    static bool private_mounts = false;
    if (!private_mounts) {
        if (::unshare(CLONE_NEWNS) != 0) {
            return failure("unshare(CLONE_NEWNS)");
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            return failure("making / private");
        }
        private_mounts = true;
    }
    // A sysfs mount belongs to the network namespace of whoever mounts it.
    if (::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        return failure("mounting sysfs on /sys");
    }
    return {};
}

UniqueFd attach_tun(const std::string& name, short flags, std::string& error) {
    UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tun.valid()) {
        error = failure("/dev/net/tun");
        return {};
    }
    auto request = request_for(name);
    request.ifr_flags = flags;
    if (::ioctl(tun.get(), TUNSETIFF, &request) < 0) {
        error = failure("TUNSETIFF " + name);
        return {};
    }
    return tun;
}

std::string create_persistent_tap(const std::string& name, std::optional<uid_t> owner) {
    std::string error;
    auto tun = attach_tun(name, IFF_TAP | IFF_NO_PI, error);
    if (!tun.valid()) {
        return error;
    }
    if (owner && ::ioctl(tun.get(), TUNSETOWNER, static_cast<unsigned long>(*owner)) < 0) {
        return failure("TUNSETOWNER");
    }
    if (::ioctl(tun.get(), TUNSETPERSIST, 1) < 0) {
        return failure("TUNSETPERSIST");
    }
    return {};
}

std::string run_in_child(const std::function<std::string()>& check) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) {
        return failure("pipe");
    }
    pid_t child = ::fork();
    if (child < 0) {
        return failure("fork");
    }
    if (child == 0) {
        ::close(pipe_fds[0]);
        std::string result = check();
        size_t done = 0;
        while (done < result.size()) {
            ssize_t written = ::write(pipe_fds[1], result.data() + done, result.size() - done);
            if (written <= 0) {
                break;
            }
            done += static_cast<size_t>(written);
        }
        ::_exit(result.empty() ? 0 : 1);
    }
    ::close(pipe_fds[1]);
    std::string result;
    char buffer[512];
    ssize_t length;
    while ((length = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
        result.append(buffer, static_cast<size_t>(length));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status)) {
        return "child died: " + result;
    }
    if (WEXITSTATUS(status) != 0 && result.empty()) {
        return fmt::format("child exited with status {}", WEXITSTATUS(status));
    }
    return result;
}

uint32_t ipv4(const char* text) {
    in_addr address{};
    ::inet_pton(AF_INET, text, &address);
    return ntohl(address.s_addr);
}

uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t sum) {
    for (size_t at = 0; at + 1 < bytes.size(); at += 2) {
        sum += static_cast<uint32_t>(bytes[at] << 8 | bytes[at + 1]);
    }
    if (bytes.size() % 2 != 0) {
        sum += static_cast<uint32_t>(bytes.back() << 8);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum);
}

uint16_t read_be16(std::span<const uint8_t> bytes, size_t at) {
    return static_cast<uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

Bytes arp_request(const net::MacAddress& sender_mac, const char* sender_ip, const char* target_ip) {
    auto frame = ethernet(net::MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, sender_mac, 0x0806, 28);
    size_t at = net::kVnetHeaderSize + kEthernetHeader;
    put16(frame, at, 1);            // hardware: Ethernet
    put16(frame, at + 2, 0x0800);   // protocol: IPv4
    frame[at + 4] = 6;
    frame[at + 5] = 4;
    put16(frame, at + 6, 1);  // request
    std::copy(sender_mac.bytes.begin(), sender_mac.bytes.end(), frame.begin() + static_cast<long>(at + 8));
    put32(frame, at + 14, ipv4(sender_ip));
    put32(frame, at + 24, ipv4(target_ip));  // target MAC stays zero
    return frame;
}

Bytes icmp_echo_request(const net::MacAddress& source_mac, const net::MacAddress& destination_mac,
                        const char* source_ip, const char* destination_ip, uint16_t identifier, uint16_t sequence) {
    constexpr size_t kIcmpLength = 8 + 32;
    auto frame = ethernet(destination_mac, source_mac, 0x0800, kIpv4Header + kIcmpLength);
    put_ipv4_header(frame, 1, source_ip, destination_ip, kIcmpLength);
    size_t at = net::kVnetHeaderSize + kEthernetHeader + kIpv4Header;
    frame[at] = 8;  // echo request
    put16(frame, at + 4, identifier);
    put16(frame, at + 6, sequence);
    for (size_t i = 0; i < 32; ++i) {
        frame[at + 8 + i] = static_cast<uint8_t>('a' + i % 26);
    }
    put16(frame, at + 2, internet_checksum(std::span(frame).subspan(at, kIcmpLength)));
    return frame;
}

Bytes udp_frame(const net::MacAddress& source_mac, const net::MacAddress& destination_mac, const char* source_ip,
                const char* destination_ip, uint16_t source_port, uint16_t destination_port,
                std::span<const uint8_t> payload, bool partial_checksum) {
    size_t udp_length = 8 + payload.size();
    auto frame = ethernet(destination_mac, source_mac, 0x0800, kIpv4Header + udp_length);
    put_ipv4_header(frame, 17, source_ip, destination_ip, udp_length);
    size_t at = net::kVnetHeaderSize + kEthernetHeader + kIpv4Header;
    put16(frame, at, source_port);
    put16(frame, at + 2, destination_port);
    put16(frame, at + 4, static_cast<uint16_t>(udp_length));
    std::copy(payload.begin(), payload.end(), frame.begin() + static_cast<long>(at + 8));
    uint32_t pseudo_header = (ipv4(source_ip) >> 16) + (ipv4(source_ip) & 0xffff) + (ipv4(destination_ip) >> 16) +
                             (ipv4(destination_ip) & 0xffff) + 17 + static_cast<uint32_t>(udp_length);
    if (partial_checksum) {
        // The header's NEEDS_CSUM: checksum from csum_start, stored at
        // csum_start + csum_offset; the field holds the folded pseudo-header sum.
        frame[0] = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
        uint16_t start = static_cast<uint16_t>(kEthernetHeader + kIpv4Header);
        std::memcpy(&frame[6], &start, 2);  // csum_start (little-endian, as on x86)
        uint16_t offset = 6;
        std::memcpy(&frame[8], &offset, 2);  // csum_offset
        put16(frame, at + 6, static_cast<uint16_t>(~internet_checksum({}, pseudo_header)));
    } else {
        uint16_t checksum = internet_checksum(std::span(frame).subspan(at, udp_length), pseudo_header);
        put16(frame, at + 6, checksum == 0 ? 0xffff : checksum);
    }
    return frame;
}

std::optional<Bytes> receive_until(net::Tap& tap, const std::function<bool(const Bytes&)>& wanted, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Bytes buffer(net::kVnetHeaderSize + 65536);
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        pollfd ready{tap.fd(), POLLIN, 0};
        if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) {
            continue;
        }
        iovec buffers[2] = {{buffer.data(), net::kVnetHeaderSize},
                            {buffer.data() + net::kVnetHeaderSize, buffer.size() - net::kVnetHeaderSize}};
        size_t received = 0;
        auto result = tap.receive(buffers, received);
        if (!result.ok() || *result != net::IoResult::Done) {
            continue;
        }
        Bytes frame(buffer.begin(), buffer.begin() + static_cast<long>(received));
        if (wanted(frame)) {
            return frame;
        }
    }
}

Result<net::IoResult> send_frame(net::Tap& tap, const Bytes& frame) {
    auto* bytes = const_cast<uint8_t*>(frame.data());  // iovec is not const-correct
    iovec parts[3] = {{bytes, net::kVnetHeaderSize},
                      {bytes + net::kVnetHeaderSize, kEthernetHeader},
                      {bytes + net::kVnetHeaderSize + kEthernetHeader,
                       frame.size() - net::kVnetHeaderSize - kEthernetHeader}};
    return tap.send(parts);
}

}  // namespace skiff::test
