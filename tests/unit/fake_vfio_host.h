// A fake VFIO host for the VFIO unit tests: a sysfs tree in a temporary
// directory whose bind/unbind/drivers_probe files behave like the kernel's
// (driver links change), and a fake VFIO kernel (container, group and
// device objects behind real memfds, each ioctl recorded with its decoded
// arguments) holding one fake SR-IOV VF:
//   config space: 8086:10ed, class 020000, header type 0x80, capabilities
//     MSI (0x50, 64-bit, 4 vectors capable) -> MSI-X (0x70, 3 vectors, table
//     BAR0+0x4000, PBA BAR0+0x5000) -> PCI Express (0xa0);
//   BAR0: 64-bit prefetchable memory, 32 KiB, mmap'able; BAR2: 32-bit
//     memory, 4 KiB, mmap'able; BAR3: 32-byte I/O BAR; expansion ROM 64 KiB;
//   IRQs: MSI 1, MSI-X 3.
// BAR contents live in memfds, so mmap'ed views and pread/pwrite agree.
#pragma once

#include "devices/vfio/vfio_abi.h"
#include "devices/vfio/vfio_host.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/vfio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace skiff::test {

inline constexpr const char* kVfAddress = "0000:03:10.2";
inline constexpr const char* kSiblingAddress = "0000:03:10.3";
inline constexpr const char* kPfAddress = "0000:03:00.0";
inline constexpr uint32_t kVfGroup = 12;

class FakeVfioHost final : public vfio::VfioHost {
public:
    enum class Kind { Container, Group, Device };
    struct Object {
        Kind kind;
        ino_t inode;
        uint32_t group = 0;
    };
    struct FakeRegion {
        uint32_t flags = 0;
        uint64_t size = 0;
        int memfd = -1;  // BAR backing
    };

    FakeVfioHost() {
        char pattern[] = "/tmp/skiff-vfio-test.XXXXXX";
        root = ::mkdtemp(pattern);
        config.fill(0);
        build_config();
        regions[0] = {VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP, 0x8000};
        regions[2] = {VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP, 0x1000};
        regions[3] = {VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, 0x20};
        regions[6] = {VFIO_REGION_INFO_FLAG_READ, 0x10000};
        regions[7] = {VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, 256};
        for (uint32_t index : {0u, 2u, 3u}) {
            regions[index].memfd = ::memfd_create("fake-bar", MFD_CLOEXEC);
            (void)::ftruncate(regions[index].memfd, static_cast<off_t>(regions[index].size));
        }
    }
    ~FakeVfioHost() override {
        for (auto& [index, region] : regions) {
            if (region.memfd >= 0) {
                ::close(region.memfd);
            }
        }
        std::error_code error;
        std::filesystem::remove_all(root, error);
    }

    // --- building the sysfs tree ---------------------------------------
    std::filesystem::path at(std::string_view path) const { return std::filesystem::path(root) / path; }
    void write_text(std::string_view path, std::string_view text) {
        std::filesystem::create_directories(at(path).parent_path());
        std::ofstream(at(path)) << text;
    }
    void link(std::string_view path, std::string_view target) {
        std::filesystem::create_directories(at(path).parent_path());
        std::filesystem::remove(at(path));
        std::filesystem::create_directory_symlink(target, at(path));
    }
    void bind_link(const std::string& address, const std::string& driver) {
        std::filesystem::create_directories(at("sys/bus/pci/drivers/" + driver));
        link("sys/bus/pci/devices/" + address + "/driver", "../../../../bus/pci/drivers/" + driver);
        if (driver == "vfio-pci" && groups.contains(address)) {
            write_text(fmt::format("dev/vfio/{}", groups[address]), "");
        }
    }
    // A PCI function, bound to `driver` (its probe driver too), in `group`.
    void add_function(const std::string& address, std::optional<std::string> driver, std::optional<uint32_t> group) {
        std::filesystem::create_directories(at("sys/bus/pci/devices/" + address));
        write_text("sys/bus/pci/devices/" + address + "/driver_override", "(null)\n");
        if (group) {
            groups[address] = *group;
            link("sys/bus/pci/devices/" + address + "/iommu_group", fmt::format("../../../../kernel/iommu_groups/{}", *group));
            write_text(fmt::format("sys/kernel/iommu_groups/{}/devices/{}", *group, address), "");
        }
        if (driver) {
            probe_driver[address] = *driver;
            bind_link(address, *driver);
        }
    }
    // The usual host: PF eth1 at 03:00.0 with 2 VFs (03:10.2 and 03:10.3,
    // both ixgbevf, each in a group of its own), VFIO loaded.
    void standard_host() {
        add_function(kPfAddress, "ixgbe", 10);
        add_function(kVfAddress, "ixgbevf", kVfGroup);
        add_function(kSiblingAddress, "ixgbevf", kVfGroup + 1);
        std::string pf = std::string("sys/bus/pci/devices/") + kPfAddress;
        write_text(pf + "/sriov_totalvfs", "8\n");
        write_text(pf + "/sriov_numvfs", "2\n");
        link(pf + "/virtfn0", std::string("../") + kVfAddress);
        link(pf + "/virtfn1", std::string("../") + kSiblingAddress);
        write_text(pf + "/net/eth1/ifindex", "7\n");
        link(std::string("sys/bus/pci/devices/") + kVfAddress + "/physfn", std::string("../") + kPfAddress);
        link(std::string("sys/bus/pci/devices/") + kSiblingAddress + "/physfn", std::string("../") + kPfAddress);
        link("sys/class/net/eth1/device", std::string("../../../bus/pci/devices/") + kPfAddress);
        interfaces["eth1"] = 7;
        vf_macs[0] = *net::MacAddress::parse("52:54:00:aa:00:00");
        vf_macs[1] = *net::MacAddress::parse("00:00:00:00:00:00");
        write_text("dev/vfio/vfio", "");
    }
    std::optional<std::string> driver_of(const std::string& address) const {
        std::error_code error;
        auto target = std::filesystem::read_symlink(at("sys/bus/pci/devices/" + address + "/driver"), error);
        if (error) {
            return std::nullopt;
        }
        return target.filename().string();
    }
    std::string override_of(const std::string& address) const {
        std::ifstream file(at("sys/bus/pci/devices/" + address + "/driver_override"));
        std::string text;
        std::getline(file, text);
        return text;
    }

    // --- VfioHost: sysfs -----------------------------------------------
    bool exists(std::string_view path) const override {
        std::error_code error;
        return std::filesystem::exists(at(path), error);
    }
    Result<std::string> read_file(std::string_view path) const override {
        std::ifstream file(at(path));
        if (!file) {
            return Error::format("fake: no file {}", path);
        }
        std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        while (!text.empty() && text.back() == '\n') {
            text.pop_back();
        }
        return text;
    }
    Result<void> write_file(std::string_view path, std::string_view value) override {
        std::string text(path);
        sysfs_log.push_back(fmt::format("{}={}", text, value == "\n" ? "" : value));
        if (text.ends_with("/driver_override")) {
            write_text(text, value == "\n" || value.empty() ? "(null)\n" : fmt::format("{}\n", value));
            return {};
        }
        if (text.ends_with("/driver/unbind")) {
            std::string address(value);
            if (driver_of(address) == "vfio-pci" && device_open()) {
                unbound_while_open = true;
            }
            std::filesystem::remove(at("sys/bus/pci/devices/" + address + "/driver"));
            return {};
        }
        if (text == "sys/bus/pci/drivers_probe") {
            std::string address(value);
            if (driver_of(address)) {
                return {};
            }
            std::string override_driver = override_of(address);
            if (override_driver != "(null)") {
                if (override_driver == "vfio-pci" && !vfio_pci_available) {
                    return {};  // the kernel probes quietly and binds nothing
                }
                bind_link(address, override_driver);
            } else if (probe_driver.contains(address)) {
                bind_link(address, probe_driver[address]);
            }
            return {};
        }
        return Error::format("fake: unexpected sysfs write {}", text);
    }
    Result<std::string> read_link(std::string_view path) const override {
        std::error_code error;
        auto target = std::filesystem::read_symlink(at(path), error);
        if (error) {
            return Error::format("fake: no link {}", path);
        }
        return target.string();
    }
    Result<std::vector<std::string>> list_directory(std::string_view path) const override {
        std::error_code error;
        std::vector<std::string> names;
        for (auto& entry : std::filesystem::directory_iterator(at(path), error)) {
            names.push_back(entry.path().filename().string());
        }
        if (error) {
            return Error::format("fake: no directory {}", path);
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    // --- VfioHost: devices ---------------------------------------------
    int new_object(Kind kind, uint32_t group = 0) {
        int fd = ::memfd_create("fake-vfio", MFD_CLOEXEC);
        struct stat status {};
        ::fstat(fd, &status);
        objects[fd] = Object{kind, status.st_ino, group};
        return fd;
    }
    // Whether `fd` is still the object handed out (not closed, not reused).
    bool still_open(int fd) const {
        auto it = objects.find(fd);
        struct stat status {};
        return it != objects.end() && ::fstat(fd, &status) == 0 && status.st_ino == it->second.inode;
    }
    bool device_open() const {
        for (auto& [fd, object] : objects) {
            if (object.kind == Kind::Device && still_open(fd)) {
                return true;
            }
        }
        return false;
    }
    Result<UniqueFd> open_device(std::string_view path) override {
        std::string text(path);
        if (!exists(text)) {
            return Error::format("fake: no {}", text);
        }
        if (text == "dev/vfio/vfio") {
            return UniqueFd(new_object(Kind::Container));
        }
        uint32_t group = static_cast<uint32_t>(std::stoul(text.substr(std::string("dev/vfio/").size())));
        return UniqueFd(new_object(Kind::Group, group));
    }

    int ioctl(int fd, unsigned long request, void* argument) override {
        if (!still_open(fd)) {
            ioctl_log.push_back("ioctl on a closed fd");
            return -EBADF;
        }
        const Object& object = objects[fd];
        auto value = reinterpret_cast<uintptr_t>(argument);
        switch (object.kind) {
            case Kind::Container: return container_ioctl(request, argument, value);
            case Kind::Group: return group_ioctl(object.group, request, argument);
            case Kind::Device: return device_ioctl(request, argument);
        }
        return -ENOTTY;
    }

    int container_ioctl(unsigned long request, void* argument, uintptr_t value) {
        switch (request) {
            case VFIO_GET_API_VERSION:
                ioctl_log.push_back("container GET_API_VERSION");
                return VFIO_API_VERSION;
            case VFIO_CHECK_EXTENSION:
                ioctl_log.push_back(fmt::format("container CHECK_EXTENSION {}", value));
                return value == VFIO_TYPE1v2_IOMMU && type1v2 ? 1 : 0;
            case VFIO_SET_IOMMU:
                ioctl_log.push_back(fmt::format("container SET_IOMMU {}", value));
                return container_set ? 0 : -EINVAL;
            case VFIO_IOMMU_MAP_DMA: {
                vfio_iommu_type1_dma_map map;
                std::memcpy(&map, argument, sizeof(map));
                ioctl_log.push_back(fmt::format("container MAP_DMA iova={:#x} size={:#x} flags={}", map.iova, map.size,
                                                map.flags));
                dma[map.iova] = {map.vaddr, map.size};
                return 0;
            }
            case VFIO_IOMMU_UNMAP_DMA: {
                vfio_iommu_type1_dma_unmap unmap;
                std::memcpy(&unmap, argument, sizeof(unmap));
                ioctl_log.push_back(fmt::format("container UNMAP_DMA iova={:#x} size={:#x}", unmap.iova, unmap.size));
                dma.erase(unmap.iova);
                return 0;
            }
            default:
                ioctl_log.push_back(fmt::format("container unknown {:#x}", request));
                return -ENOTTY;
        }
    }

    int group_ioctl(uint32_t group, unsigned long request, void* argument) {
        switch (request) {
            case VFIO_GROUP_GET_STATUS: {
                ioctl_log.push_back(fmt::format("group {} GET_STATUS", group));
                vfio_group_status status{};
                std::memcpy(&status, argument, sizeof(status));
                status.flags = (group_viable ? VFIO_GROUP_FLAGS_VIABLE : 0) |
                               (container_set ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
                std::memcpy(argument, &status, sizeof(status));
                return 0;
            }
            case VFIO_GROUP_SET_CONTAINER: {
                int container = *static_cast<int*>(argument);
                bool valid = still_open(container) && objects[container].kind == Kind::Container;
                ioctl_log.push_back(fmt::format("group {} SET_CONTAINER{}", group, valid ? "" : " (bad fd)"));
                container_set = valid;
                return valid ? 0 : -EBADF;
            }
            case VFIO_GROUP_GET_DEVICE_FD: {
                std::string name(static_cast<const char*>(argument));
                ioctl_log.push_back(fmt::format("group {} GET_DEVICE_FD {}", group, name));
                if (fail_get_device_fd || name != kVfAddress) {
                    return -ENODEV;
                }
                return new_object(Kind::Device);
            }
            default:
                ioctl_log.push_back(fmt::format("group unknown {:#x}", request));
                return -ENOTTY;
        }
    }

    int device_ioctl(unsigned long request, void* argument) {
        switch (request) {
            case VFIO_DEVICE_GET_INFO: {
                ioctl_log.push_back("device GET_INFO");
                vfio_device_info info{};
                std::memcpy(&info, argument, sizeof(info));
                info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
                info.num_regions = VFIO_PCI_NUM_REGIONS;
                info.num_irqs = VFIO_PCI_NUM_IRQS;
                std::memcpy(argument, &info, sizeof(info));
                return 0;
            }
            case VFIO_DEVICE_GET_REGION_INFO: return region_info(argument);
            case VFIO_DEVICE_GET_IRQ_INFO: {
                vfio_irq_info info{};
                std::memcpy(&info, argument, sizeof(info));
                ioctl_log.push_back(fmt::format("device GET_IRQ_INFO {}", info.index));
                info.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
                info.count = info.index == VFIO_PCI_MSI_IRQ_INDEX ? 1 : info.index == VFIO_PCI_MSIX_IRQ_INDEX ? 3 : 0;
                std::memcpy(argument, &info, sizeof(info));
                return 0;
            }
            case VFIO_DEVICE_SET_IRQS: {
                vfio::abi::IrqSetHeader header;
                std::memcpy(&header, argument, sizeof(header));
                std::vector<int> fds;
                if ((header.flags & VFIO_IRQ_SET_DATA_EVENTFD) != 0) {
                    for (uint32_t i = 0; i < header.count; ++i) {
                        int32_t event_fd = 0;
                        std::memcpy(&event_fd, static_cast<uint8_t*>(argument) + sizeof(header) + 4 * i, 4);
                        fds.push_back(event_fd);
                    }
                }
                bool data_ok = header.argsz == sizeof(header) + 4 * fds.size();
                ioctl_log.push_back(fmt::format("device SET_IRQS index={} start={} count={} {}{}", header.index,
                                                header.start, header.count,
                                                (header.flags & VFIO_IRQ_SET_DATA_EVENTFD) != 0 ? "trigger eventfd"
                                                                                                 : "trigger none",
                                                data_ok ? "" : " (bad argsz)"));
                irq_fds[header.index] = fds;
                return 0;
            }
            case VFIO_DEVICE_RESET:
                ioctl_log.push_back("device RESET");
                return 0;
            default:
                ioctl_log.push_back(fmt::format("device unknown {:#x}", request));
                return -ENOTTY;
        }
    }

    int region_info(void* argument) {
        vfio_region_info info{};
        std::memcpy(&info, argument, sizeof(info));
        ioctl_log.push_back(fmt::format("device GET_REGION_INFO {}{}", info.index,
                                        info.argsz > sizeof(info) ? " (with room)" : ""));
        uint32_t given = info.argsz;
        FakeRegion region = regions.contains(info.index) ? regions[info.index] : FakeRegion{};
        info.flags = region.flags;
        info.size = region.size;
        info.offset = uint64_t{info.index} << 40;
        info.cap_offset = 0;
        if (info.index == 0 && sparse_bar0) {
            uint32_t needed = sizeof(info) + sizeof(vfio::abi::SparseMmapHeader) + 2 * sizeof(vfio::abi::SparseMmapArea);
            info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
            info.argsz = needed;
            if (given >= needed) {
                info.cap_offset = sizeof(info);
                vfio::abi::SparseMmapHeader header{{VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0}, 2, 0};
                vfio::abi::SparseMmapArea areas[2] = {{0, 0x3000}, {0x6000, 0x2000}};
                auto* bytes = static_cast<uint8_t*>(argument);
                std::memcpy(bytes + sizeof(info), &header, sizeof(header));
                std::memcpy(bytes + sizeof(info) + sizeof(header), areas, sizeof(areas));
            }
        }
        std::memcpy(argument, &info, sizeof(info));
        return 0;
    }

    static std::pair<uint32_t, uint64_t> split(uint64_t offset) {
        return {static_cast<uint32_t>(offset >> 40), offset & ((uint64_t{1} << 40) - 1)};
    }
    Result<void> pread(int fd, std::span<uint8_t> data, uint64_t offset) override {
        auto [index, within] = split(offset);
        if (!still_open(fd) || !regions.contains(index) || within + data.size() > regions[index].size) {
            return Error::format("fake: bad read region {} at {:#x}", index, within);
        }
        if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
            std::memcpy(data.data(), config.data() + within, data.size());
        } else {
            (void)::pread(regions[index].memfd, data.data(), data.size(), static_cast<off_t>(within));
        }
        region_log.push_back(fmt::format("read {} {:#x} {}", index, within, data.size()));
        return {};
    }
    Result<void> pwrite(int fd, std::span<const uint8_t> data, uint64_t offset) override {
        auto [index, within] = split(offset);
        if (!still_open(fd) || !regions.contains(index) || within + data.size() > regions[index].size) {
            return Error::format("fake: bad write region {} at {:#x}", index, within);
        }
        if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
            std::memcpy(config.data() + within, data.data(), data.size());
        } else {
            (void)::pwrite(regions[index].memfd, data.data(), data.size(), static_cast<off_t>(within));
        }
        region_log.push_back(fmt::format("write {} {:#x} {}", index, within, data.size()));
        return {};
    }
    Result<MemoryMapping> mmap(int fd, uint64_t size, uint64_t offset) override {
        auto [index, within] = split(offset);
        if (!still_open(fd) || !regions.contains(index) || (regions[index].flags & VFIO_REGION_INFO_FLAG_MMAP) == 0) {
            return Error{"fake: region not mmap'able"};
        }
        mmap_log.push_back(fmt::format("mmap {} {:#x}+{:#x}", index, within, size));
        return MemoryMapping::shared_file(regions[index].memfd, size, static_cast<off_t>(within));
    }

    Result<uint32_t> interface_index(std::string_view name) const override {
        auto it = interfaces.find(std::string(name));
        if (it == interfaces.end()) {
            return Error::format("fake: no interface {}", name);
        }
        return it->second;
    }
    // rtnetlink as a PF (index 7) whose driver keeps a MAC per VF:
    // RTM_SETLINK with IFLA_VF_MAC sets one (unless netlink_answer is an
    // errno), RTM_GETLINK answers RTM_NEWLINK with every VF's MAC (none
    // when reports_vf_macs is false).
    Result<net::NetlinkAnswer> netlink(const net::NetlinkMessage& message) override {
        auto raw = message.bytes();
        std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
        netlink_requests.emplace_back(bytes.begin(), bytes.end());
        nlmsghdr header;
        std::memcpy(&header, bytes.data(), sizeof(header));
        ifinfomsg info;
        std::memcpy(&info, bytes.data() + NLMSG_HDRLEN, sizeof(info));
        sysfs_log.push_back(header.nlmsg_type == RTM_GETLINK ? "netlink get" : "netlink set");
        net::NetlinkAnswer answer;
        answer.error = netlink_answer;
        if (netlink_answer != 0) {
            return answer;
        }
        if (info.ifi_index != 7) {
            answer.error = ENODEV;
            return answer;
        }
        if (header.nlmsg_type == RTM_GETLINK) {
            net::NetlinkMessage reply(RTM_NEWLINK, 0);
            reply.append_header(info);
            if (reports_vf_macs) {
                size_t list = reply.begin_nested(IFLA_VFINFO_LIST);
                for (const auto& [vf, mac] : vf_macs) {
                    size_t entry = reply.begin_nested(IFLA_VF_INFO);
                    ifla_vf_vlan vlan{};  // another attribute first, as real drivers send
                    vlan.vf = vf;
                    reply.put(IFLA_VF_VLAN, std::as_bytes(std::span<const ifla_vf_vlan, 1>(&vlan, 1)));
                    ifla_vf_mac value{};
                    value.vf = vf;
                    std::memcpy(value.mac, mac.bytes.data(), mac.bytes.size());
                    reply.put(IFLA_VF_MAC, std::as_bytes(std::span<const ifla_vf_mac, 1>(&value, 1)));
                    reply.end_nested(entry);
                }
                reply.end_nested(list);
            }
            auto reply_bytes = reply.bytes();
            answer.type = RTM_NEWLINK;
            answer.payload.assign(reinterpret_cast<const uint8_t*>(reply_bytes.data()) + NLMSG_HDRLEN,
                                  reinterpret_cast<const uint8_t*>(reply_bytes.data()) + reply_bytes.size());
            return answer;
        }
        auto attributes = bytes.subspan(NLMSG_SPACE(sizeof(ifinfomsg)));
        net::for_each_netlink_attribute(attributes, [&](unsigned, auto list) {
            net::for_each_netlink_attribute(list, [&](unsigned, auto entry) {
                net::for_each_netlink_attribute(entry, [&](unsigned field, auto payload) {
                    if (field == IFLA_VF_MAC && payload.size() >= sizeof(ifla_vf_mac)) {
                        ifla_vf_mac value;
                        std::memcpy(&value, payload.data(), sizeof(value));
                        net::MacAddress mac;
                        std::memcpy(mac.bytes.data(), value.mac, mac.bytes.size());
                        vf_macs[value.vf] = mac;
                    }
                });
            });
        });
        return answer;
    }

    std::optional<size_t> remember_for_crash(const net::NetlinkMessage& message) override {
        auto raw = message.bytes();
        crash_requests[next_crash_slot] = std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()),
                                                               reinterpret_cast<const uint8_t*>(raw.data()) + raw.size());
        return next_crash_slot++;
    }
    void forget_for_crash(size_t slot) override { crash_requests.erase(slot); }

    // --- the fake VF's configuration space -----------------------------
    void set16(size_t at, uint16_t value) {
        config[at] = static_cast<uint8_t>(value);
        config[at + 1] = static_cast<uint8_t>(value >> 8);
    }
    void set32(size_t at, uint32_t value) {
        set16(at, static_cast<uint16_t>(value));
        set16(at + 2, static_cast<uint16_t>(value >> 16));
    }
    uint16_t get16(size_t at) const { return static_cast<uint16_t>(config[at] | (config[at + 1] << 8)); }
    void build_config() {
        set16(0x00, 0x8086);
        set16(0x02, 0x10ed);
        set16(0x06, 0x0010);  // capabilities list
        config[0x08] = 0x01;
        set16(0x0a, 0x0200);  // Ethernet controller
        config[0x0e] = 0x80;  // multi-function (a VF on a multi-function PF)
        set32(0x10, 0x0000000c);  // BAR0: 64-bit prefetchable
        set32(0x18, 0x00000000);  // BAR2: 32-bit
        set32(0x1c, 0x00000001);  // BAR3: I/O
        set16(0x2c, 0x8086);
        set16(0x2e, 0x0001);
        set32(0x30, 0xfffe0001);  // ROM, enabled
        config[0x34] = 0x50;
        config[0x3d] = 0x01;  // INTA (real VFs have none)
        config[0x50] = 0x05;  // MSI
        config[0x51] = 0x70;
        set16(0x52, 0x0084);  // 64-bit, 4 vectors capable
        config[0x70] = 0x11;  // MSI-X
        config[0x71] = 0xa0;
        set16(0x72, 0x0002);  // 3 vectors
        set32(0x74, 0x00004000);
        set32(0x78, 0x00005000);
        config[0xa0] = 0x10;  // PCI Express
        config[0xa1] = 0x00;
        set16(0xa2, 0x0002);
    }

    std::string root;
    std::array<uint8_t, 256> config{};
    std::map<uint32_t, FakeRegion> regions;
    std::map<int, Object> objects;
    std::map<std::string, uint32_t> groups;
    std::map<std::string, std::string> probe_driver;
    std::map<std::string, uint32_t> interfaces;
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> dma;  // iova -> (vaddr, size)
    std::map<uint32_t, std::vector<int>> irq_fds;
    std::vector<std::string> sysfs_log;
    std::vector<std::string> ioctl_log;
    std::vector<std::string> region_log;
    std::vector<std::string> mmap_log;
    std::vector<std::vector<uint8_t>> netlink_requests;
    int netlink_answer = 0;
    std::map<uint32_t, net::MacAddress> vf_macs;  // of PF eth1's VFs
    std::map<size_t, std::vector<uint8_t>> crash_requests;  // remembered, not forgotten yet
    size_t next_crash_slot = 0;
    bool reports_vf_macs = true;
    bool type1v2 = true;
    bool group_viable = true;
    bool container_set = false;
    bool vfio_pci_available = true;
    bool fail_get_device_fd = false;
    bool sparse_bar0 = false;
    bool unbound_while_open = false;
};

}  // namespace skiff::test
