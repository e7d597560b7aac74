// virtio-net feature bits and configuration layout (VIRTIO 1.2, 5.1).
#pragma once

#include <cstdint>

namespace skiff::virtio::net_feature {
inline constexpr unsigned kCsum = 0;       // device takes partial checksums
inline constexpr unsigned kGuestCsum = 1;  // driver takes partial checksums
inline constexpr unsigned kMtu = 3;
inline constexpr unsigned kMac = 5;
inline constexpr unsigned kGuestTso4 = 7;
inline constexpr unsigned kGuestTso6 = 8;
inline constexpr unsigned kHostTso4 = 11;
inline constexpr unsigned kHostTso6 = 12;
inline constexpr unsigned kMrgRxbuf = 15;
inline constexpr unsigned kStatus = 16;
}  // namespace skiff::virtio::net_feature

namespace skiff::virtio::net_config {
inline constexpr uint32_t kMacOffset = 0;        // u8[6]
inline constexpr uint32_t kStatusOffset = 6;     // le16
inline constexpr uint32_t kMaxPairsOffset = 8;   // le16
inline constexpr uint32_t kMtuOffset = 10;       // le16
inline constexpr uint32_t kSize = 12;
inline constexpr uint16_t kLinkUp = 1;
}  // namespace skiff::virtio::net_config
