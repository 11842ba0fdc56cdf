#pragma once
#include <string_view>

namespace slimcache::agent {
inline constexpr std::string_view k_version = "0.1.0";
}  // namespace slimcache::agent
