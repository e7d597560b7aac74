#include "vmm/kvm.h"

#include "boot/layout.h"
#include "vmm/kvm_abi.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

namespace skiff {

namespace {

constexpr int kKvmApiVersion = 12;
constexpr uint32_t kMaxCpuidEntries = 256;

// Buffer for the variable-length structs of the KVM API: a C-layout header
// (vmm/kvm_abi.h) with `count` entries right after it, 8-byte aligned.
template <typename Header, typename Entry>
class FlexibleBuffer {
public:
    explicit FlexibleBuffer(size_t count)
        : storage_((sizeof(Header) + count * sizeof(Entry) + sizeof(uint64_t) - 1) / sizeof(uint64_t)) {}
    Header* header() { return reinterpret_cast<Header*>(storage_.data()); }
    Entry* entries() { return reinterpret_cast<Entry*>(reinterpret_cast<std::byte*>(storage_.data()) + sizeof(Header)); }

private:
    std::vector<uint64_t> storage_;
};

Result<void> ioctl_checked(int fd, unsigned long request, const void* argument, std::string_view what) {
    if (::ioctl(fd, request, argument) < 0) {
        return errno_error(what);
    }
    return {};
}

template <typename T>
Result<T> ioctl_get(int fd, unsigned long request, std::string_view what) {
    T value{};
    if (::ioctl(fd, request, &value) < 0) {
        return errno_error(what);
    }
    return value;
}

}  // namespace

Result<Kvm> Kvm::open(const char* device_path) {
    int fd = ::open(device_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        if (saved == ENOENT || saved == ENODEV || saved == ENXIO) {
            return Error::format(
                "{} not available ({}): load the kvm module (kvm_intel or kvm_amd) and enable "
                "virtualisation in the firmware, or run the tests through tests/l1vm/run.sh",
                device_path, std::strerror(saved));
        }
        if (saved == EACCES || saved == EPERM) {
            return Error::format("{}: permission denied: run as root or add the user to the kvm group",
                                 device_path);
        }
        return errno_error(fmt::format("opening {}", device_path), saved);
    }
    Kvm kvm{UniqueFd(fd)};
    int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != kKvmApiVersion) {
        return Error::format("KVM API version {} is not the expected {}", version, kKvmApiVersion);
    }
    for (auto [extension, name] : {std::pair{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
                                   std::pair{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                                   std::pair{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
                                   std::pair{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
                                   std::pair{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
                                   std::pair{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
                                   std::pair{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"}}) {
        if (kvm.check_extension(extension) <= 0) {
            return Error::format("the host's KVM lacks {}: skiff needs Linux 4.14 or newer", name);
        }
    }
    return kvm;
}

int Kvm::check_extension(long extension) const {
    return ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, extension);
}

Result<size_t> Kvm::vcpu_mmap_size() const {
    int size = ::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0) {
        return errno_error("KVM_GET_VCPU_MMAP_SIZE");
    }
    return static_cast<size_t>(size);
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const {
    FlexibleBuffer<kvm_abi::Cpuid2Header, kvm_cpuid_entry2> buffer(kMaxCpuidEntries);
    buffer.header()->nent = kMaxCpuidEntries;
    TRY(ioctl_checked(fd_.get(), kvm_abi::kGetSupportedCpuid, buffer.header(), "KVM_GET_SUPPORTED_CPUID"));
    return std::vector<kvm_cpuid_entry2>(buffer.entries(), buffer.entries() + buffer.header()->nent);
}

Result<VmFd> VmFd::create(const Kvm& kvm) {
    int fd = -1;
    do {
        fd = ::ioctl(kvm.fd(), KVM_CREATE_VM, 0);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return errno_error("KVM_CREATE_VM");
    }
    VmFd vm{UniqueFd(fd)};
    if (::ioctl(fd, KVM_SET_TSS_ADDR, static_cast<unsigned long>(layout::kKvmTss.value())) < 0) {
        return errno_error("KVM_SET_TSS_ADDR");
    }
    uint64_t identity_map = layout::kKvmIdentityMap.value();
    TRY(ioctl_checked(fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map, "KVM_SET_IDENTITY_MAP_ADDR"));
    if (::ioctl(fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        return errno_error("KVM_CREATE_IRQCHIP");
    }
    // The dummy speaker port lets the in-kernel PIT answer port 0x61 too.
    kvm_pit_config pit{};
    pit.flags = KVM_PIT_SPEAKER_DUMMY;
    TRY(ioctl_checked(fd, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2"));
    return vm;
}

Result<void> VmFd::set_user_memory_region(uint32_t slot, const GuestRegion& region) {
    kvm_userspace_memory_region memory_region{};
    memory_region.slot = slot;
    memory_region.guest_phys_addr = region.start.value();
    memory_region.memory_size = region.size;
    memory_region.userspace_addr = reinterpret_cast<uint64_t>(region.host);
    return ioctl_checked(fd_.get(), KVM_SET_USER_MEMORY_REGION, &memory_region,
                         "KVM_SET_USER_MEMORY_REGION");
}

Result<void> VmFd::map_guest_memory(const GuestMemory& memory) {
    uint32_t slot = 0;
    for (const GuestRegion& region : memory.regions()) {
        TRY(set_user_memory_region(slot++, region));
    }
    return {};
}

Result<void> VmFd::set_irq_line(uint32_t irq, bool level) const {
    kvm_irq_level irq_level{};
    irq_level.irq = irq;
    irq_level.level = level ? 1 : 0;
    return ioctl_checked(fd_.get(), KVM_IRQ_LINE, &irq_level, "KVM_IRQ_LINE");
}

Result<void> VmFd::set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const {
    FlexibleBuffer<kvm_abi::IrqRoutingHeader, kvm_irq_routing_entry> buffer(entries.size());
    buffer.header()->nr = static_cast<uint32_t>(entries.size());
    buffer.header()->flags = 0;
    std::memcpy(buffer.entries(), entries.data(), entries.size_bytes());
    return ioctl_checked(fd_.get(), kvm_abi::kSetGsiRouting, buffer.header(), "KVM_SET_GSI_ROUTING");
}

Result<void> VmFd::register_irqfd(int event_fd, uint32_t gsi) const {
    kvm_irqfd irqfd{};
    irqfd.fd = static_cast<uint32_t>(event_fd);
    irqfd.gsi = gsi;
    return ioctl_checked(fd_.get(), KVM_IRQFD, &irqfd, "KVM_IRQFD");
}

Result<void> VmFd::unregister_irqfd(int event_fd, uint32_t gsi) const {
    kvm_irqfd irqfd{};
    irqfd.fd = static_cast<uint32_t>(event_fd);
    irqfd.gsi = gsi;
    irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
    return ioctl_checked(fd_.get(), KVM_IRQFD, &irqfd, "KVM_IRQFD deassign");
}

namespace {
kvm_ioeventfd make_ioeventfd(int event_fd, uint64_t address, uint32_t length, bool pio,
                             std::optional<uint64_t> datamatch) {
    kvm_ioeventfd ioeventfd{};
    ioeventfd.addr = address;
    ioeventfd.len = length;
    ioeventfd.fd = event_fd;
    ioeventfd.flags = pio ? KVM_IOEVENTFD_FLAG_PIO : 0;
    if (datamatch) {
        ioeventfd.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
        ioeventfd.datamatch = *datamatch;
    }
    return ioeventfd;
}
}  // namespace

Result<void> VmFd::register_ioeventfd(int event_fd, uint64_t address, uint32_t length, bool pio,
                                      std::optional<uint64_t> datamatch) const {
    kvm_ioeventfd ioeventfd = make_ioeventfd(event_fd, address, length, pio, datamatch);
    return ioctl_checked(fd_.get(), KVM_IOEVENTFD, &ioeventfd, "KVM_IOEVENTFD");
}

Result<void> VmFd::unregister_ioeventfd(int event_fd, uint64_t address, uint32_t length, bool pio,
                                        std::optional<uint64_t> datamatch) const {
    kvm_ioeventfd ioeventfd = make_ioeventfd(event_fd, address, length, pio, datamatch);
    ioeventfd.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
    return ioctl_checked(fd_.get(), KVM_IOEVENTFD, &ioeventfd, "KVM_IOEVENTFD deassign");
}

Result<VcpuFd> VcpuFd::create(const Kvm& kvm, const VmFd& vm, uint32_t index) {
    int fd = ::ioctl(vm.fd(), KVM_CREATE_VCPU, static_cast<unsigned long>(index));
    if (fd < 0) {
        return errno_error(fmt::format("KVM_CREATE_VCPU {}", index));
    }
    UniqueFd owner(fd);
    size_t size = TRY(kvm.vcpu_mmap_size());
    auto run = TRY(MemoryMapping::shared_file(fd, size, 0));
    return VcpuFd(std::move(owner), std::move(run), index);
}

Result<bool> VcpuFd::run() const {
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return false;
        }
        return errno_error("KVM_RUN");
    }
    return true;
}

Result<kvm_regs> VcpuFd::registers() const { return ioctl_get<kvm_regs>(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS"); }
Result<void> VcpuFd::set_registers(const kvm_regs& registers) const {
    return ioctl_checked(fd_.get(), KVM_SET_REGS, &registers, "KVM_SET_REGS");
}
Result<kvm_sregs> VcpuFd::special_registers() const {
    return ioctl_get<kvm_sregs>(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS");
}
Result<void> VcpuFd::set_special_registers(const kvm_sregs& registers) const {
    return ioctl_checked(fd_.get(), KVM_SET_SREGS, &registers, "KVM_SET_SREGS");
}
Result<kvm_fpu> VcpuFd::fpu() const { return ioctl_get<kvm_fpu>(fd_.get(), KVM_GET_FPU, "KVM_GET_FPU"); }
Result<void> VcpuFd::set_fpu(const kvm_fpu& fpu) const {
    return ioctl_checked(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}
Result<kvm_lapic_state> VcpuFd::lapic() const {
    return ioctl_get<kvm_lapic_state>(fd_.get(), KVM_GET_LAPIC, "KVM_GET_LAPIC");
}
Result<void> VcpuFd::set_lapic(const kvm_lapic_state& state) const {
    return ioctl_checked(fd_.get(), KVM_SET_LAPIC, &state, "KVM_SET_LAPIC");
}
Result<kvm_vcpu_events> VcpuFd::events() const {
    return ioctl_get<kvm_vcpu_events>(fd_.get(), KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS");
}
Result<void> VcpuFd::set_events(const kvm_vcpu_events& events) const {
    return ioctl_checked(fd_.get(), KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
}

Result<void> VcpuFd::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const {
    FlexibleBuffer<kvm_abi::Cpuid2Header, kvm_cpuid_entry2> buffer(entries.size());
    buffer.header()->nent = static_cast<uint32_t>(entries.size());
    std::memcpy(buffer.entries(), entries.data(), entries.size_bytes());
    return ioctl_checked(fd_.get(), kvm_abi::kSetCpuid2, buffer.header(), "KVM_SET_CPUID2");
}

Result<void> VcpuFd::set_msrs(const std::vector<kvm_msr_entry>& entries) const {
    FlexibleBuffer<kvm_abi::MsrsHeader, kvm_msr_entry> buffer(entries.size());
    buffer.header()->nmsrs = static_cast<uint32_t>(entries.size());
    std::memcpy(buffer.entries(), entries.data(), entries.size() * sizeof(kvm_msr_entry));
    int written = ::ioctl(fd_.get(), kvm_abi::kSetMsrs, buffer.header());
    if (written < 0) {
        return errno_error("KVM_SET_MSRS");
    }
    if (static_cast<size_t>(written) != entries.size()) {
        return Error::format("KVM_SET_MSRS set {} of {} MSRs (first refused: {:#x})", written,
                             entries.size(), entries[static_cast<size_t>(written)].index);
    }
    return {};
}

Result<uint64_t> VcpuFd::translate(uint64_t guest_virtual) const {
    kvm_translation translation{};
    translation.linear_address = guest_virtual;
    TRY(ioctl_checked(fd_.get(), KVM_TRANSLATE, &translation, "KVM_TRANSLATE"));
    if (translation.valid == 0) {
        return Error::format("guest virtual address {:#x} is not mapped", guest_virtual);
    }
    return translation.physical_address;
}

}  // namespace skiff
