#include "guest-images/embedded_testguest.h"

extern "C" const std::byte skiff_testguest_start[];
extern "C" const std::byte skiff_testguest_end[];

namespace skiff {

std::span<const std::byte> embedded_testguest() {
    return {skiff_testguest_start, static_cast<size_t>(skiff_testguest_end - skiff_testguest_start)};
}

}  // namespace skiff
