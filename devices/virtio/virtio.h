// Constants of the VIRTIO 1.x specification that transports and devices
// share: device status bits, transport-level feature bits, device types.
#pragma once

#include <cstdint>

namespace skiff::virtio {

// Device status (VIRTIO 1.2, 2.1).
namespace status {
inline constexpr uint8_t kAcknowledge = 1;
inline constexpr uint8_t kDriver = 2;
inline constexpr uint8_t kDriverOk = 4;
inline constexpr uint8_t kFeaturesOk = 8;
inline constexpr uint8_t kDeviceNeedsReset = 64;
inline constexpr uint8_t kFailed = 128;
}  // namespace status

// Feature bit numbers that are not device-specific (VIRTIO 1.2, 6).
namespace feature {
inline constexpr unsigned kRingIndirectDesc = 28;
inline constexpr unsigned kRingEventIdx = 29;
inline constexpr unsigned kVersion1 = 32;
inline constexpr unsigned kAccessPlatform = 33;
}  // namespace feature

constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }
constexpr bool has_feature(uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

enum class DeviceType : uint32_t {
    Net = 1,
    Block = 2,
    Console = 3,
    Entropy = 4,
};

// Largest queue a device may offer (the split-ring maximum).
inline constexpr uint16_t kMaxQueueSize = 32768;

}  // namespace skiff::virtio
