// The test guest image embedded in the skiff binary (the default kernel).
#pragma once

#include <cstddef>
#include <span>

namespace skiff {

std::span<const std::byte> embedded_testguest();

}  // namespace skiff
