// The variable-length vhost structure, declared the way C sees it.
//
// <linux/vhost_types.h> ends `struct vhost_memory` with a flexible array of
// regions. Flexible arrays are not C++, and a C++ compiler that accepts
// them as an extension need not agree with C on the layout (see
// vmm/kvm_abi.h for what went wrong with KVM's): skiff builds the
// VHOST_SET_MEM_TABLE argument from this header plus an array of
// vhost_memory_region, and computes the ioctl number from it. The
// fixed-size structures (vhost_vring_state, vhost_vring_file,
// vhost_vring_addr, vhost_memory_region) are used as the kernel declares
// them; their layouts are checked here too.
#pragma once

// <linux/vhost.h> pulls in <linux/virtio_ring.h>, whose legacy vring_init()
// is not C++ (void* to typed pointer): that part is switched off.
#ifndef VIRTIO_RING_NO_LEGACY
#define VIRTIO_RING_NO_LEGACY
#endif
#include <linux/vhost.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace skiff::vhost::abi {

// Followed by `nregions` vhost_memory_region.
struct MemoryHeader {
    uint32_t nregions;
    uint32_t padding;
};
static_assert(sizeof(MemoryHeader) == 8);
static_assert(offsetof(MemoryHeader, nregions) == 0);

// The regions, as the kernel reads them after the header.
struct MemoryRegion {
    uint64_t guest_phys_addr;
    uint64_t memory_size;
    uint64_t userspace_addr;
    uint64_t flags_padding;  // must be 0
};
static_assert(sizeof(MemoryRegion) == 32);
static_assert(sizeof(MemoryRegion) == sizeof(vhost_memory_region));
static_assert(offsetof(MemoryRegion, guest_phys_addr) == offsetof(vhost_memory_region, guest_phys_addr));
static_assert(offsetof(MemoryRegion, memory_size) == offsetof(vhost_memory_region, memory_size));
static_assert(offsetof(MemoryRegion, userspace_addr) == offsetof(vhost_memory_region, userspace_addr));
static_assert(offsetof(MemoryRegion, flags_padding) == offsetof(vhost_memory_region, flags_padding));
static_assert(sizeof(MemoryHeader) % alignof(MemoryRegion) == 0);

// The fixed-size arguments, as <linux/vhost_types.h> declares them.
static_assert(sizeof(vhost_vring_state) == 8);
static_assert(offsetof(vhost_vring_state, index) == 0 && offsetof(vhost_vring_state, num) == 4);
static_assert(sizeof(vhost_vring_file) == 8);
static_assert(offsetof(vhost_vring_file, index) == 0 && offsetof(vhost_vring_file, fd) == 4);
static_assert(sizeof(vhost_vring_addr) == 40);
static_assert(offsetof(vhost_vring_addr, index) == 0 && offsetof(vhost_vring_addr, flags) == 4);
static_assert(offsetof(vhost_vring_addr, desc_user_addr) == 8);
static_assert(offsetof(vhost_vring_addr, used_user_addr) == 16);
static_assert(offsetof(vhost_vring_addr, avail_user_addr) == 24);
static_assert(offsetof(vhost_vring_addr, log_guest_addr) == 32);

// The ioctl numbers (VHOST_VIRTIO 0xAF). The mem-table number encodes the
// size of the C header (8), which MemoryHeader reproduces.
inline constexpr unsigned long kGetFeatures = _IOR(VHOST_VIRTIO, 0x00, uint64_t);
inline constexpr unsigned long kSetFeatures = _IOW(VHOST_VIRTIO, 0x00, uint64_t);
inline constexpr unsigned long kSetOwner = _IO(VHOST_VIRTIO, 0x01);
inline constexpr unsigned long kSetMemTable = _IOW(VHOST_VIRTIO, 0x03, MemoryHeader);
inline constexpr unsigned long kSetVringNum = _IOW(VHOST_VIRTIO, 0x10, vhost_vring_state);
inline constexpr unsigned long kSetVringAddr = _IOW(VHOST_VIRTIO, 0x11, vhost_vring_addr);
inline constexpr unsigned long kSetVringBase = _IOW(VHOST_VIRTIO, 0x12, vhost_vring_state);
inline constexpr unsigned long kGetVringBase = _IOWR(VHOST_VIRTIO, 0x12, vhost_vring_state);
inline constexpr unsigned long kSetVringKick = _IOW(VHOST_VIRTIO, 0x20, vhost_vring_file);
inline constexpr unsigned long kSetVringCall = _IOW(VHOST_VIRTIO, 0x21, vhost_vring_file);
inline constexpr unsigned long kNetSetBackend = _IOW(VHOST_VIRTIO, 0x30, vhost_vring_file);

// The same numbers as the kernel header's macros, where those do not
// depend on the flexible-array struct.
static_assert(kGetFeatures == VHOST_GET_FEATURES && kSetFeatures == VHOST_SET_FEATURES);
static_assert(kSetOwner == VHOST_SET_OWNER);
static_assert(kSetVringNum == VHOST_SET_VRING_NUM && kSetVringAddr == VHOST_SET_VRING_ADDR);
static_assert(kSetVringBase == VHOST_SET_VRING_BASE && kGetVringBase == VHOST_GET_VRING_BASE);
static_assert(kSetVringKick == VHOST_SET_VRING_KICK && kSetVringCall == VHOST_SET_VRING_CALL);
static_assert(kNetSetBackend == VHOST_NET_SET_BACKEND);
// 0x4008af03: direction write, size 8, type 0xAF, number 3.
static_assert(kSetMemTable == 0x4008af03UL);

}  // namespace skiff::vhost::abi
