#include "agent/cache/paging_policies.hpp"

#include <array>
#include <string>

namespace slimcache::agent::cache {

Expected<void, CacheError> PagingPolicy::reset(const PagingGeometry& geometry, std::size_t capacity) {
  if (capacity < geometry.top_k) {
    return Unexpected(CacheError{CacheErrc::k_invalid_argument,
                                 "cache of " + std::to_string(capacity) + " pages is smaller than one layer's top-K (" +
                                     std::to_string(geometry.top_k) + " experts must be resident together)"});
  }
  m_geometry = geometry;
  m_capacity = capacity;
  return {};
}

bool PagingPolicy::needs_room(PageId /*incoming*/, std::size_t resident_count) const {
  return resident_count >= m_capacity;
}

namespace {
constexpr std::array<std::string_view, 10> k_names = {
    "slim", "llru", "lru", "lru-per-layer", "fifo", "lfu", "clock", "random", "marking", "belady"};
}  // namespace

std::span<const std::string_view> policy_names() { return k_names; }

Expected<std::unique_ptr<PagingPolicy>, CacheError> make_policy(std::string_view name, std::uint64_t seed) {
  if (name == "lru") return make_lru_policy();
  if (name == "fifo") return make_fifo_policy();
  if (name == "lfu") return make_lfu_policy();
  if (name == "clock") return make_clock_policy();
  if (name == "random") return make_random_policy(seed);
  if (name == "marking") return make_marking_policy(seed);
  if (name == "lru-per-layer") return make_lru_per_layer_policy();
  if (name == "llru") return make_llru_policy();
  if (name == "belady") return make_belady_policy();
  if (name == "slim") return make_slim_policy();
  std::string known;
  for (auto n : k_names) known += (known.empty() ? "" : ", ") + std::string(n);
  return Unexpected(
      CacheError{CacheErrc::k_invalid_argument, "unknown policy '" + std::string(name) + "' (known: " + known + ")"});
}

}  // namespace slimcache::agent::cache
