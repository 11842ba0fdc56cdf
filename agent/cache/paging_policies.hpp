#pragma once
// The paging policies, by name (MODEL.md section 5, docs/cache.md):
//   lru, fifo, lfu (in-cache counts, LRU among equals), clock (second chance),
//   random, marking (randomized marking), lru-per-layer (capacity split equally per layer,
//   LRU inside a layer), llru (layer-aware LRU: age in rounds of the page's own layer, among
//   equal ages the page whose layer comes back last goes first), belady (offline optimum:
//   furthest next use; evaluation only), and slim, our default (slim_policy.hpp).
// random and marking are seeded; every policy is deterministic for a given seed.
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "agent/cache/paging_policy.hpp"

namespace slimcache::agent::cache {

inline constexpr std::string_view k_default_policy = "slim";

// All names, in report order (the default first, belady last).
[[nodiscard]] std::span<const std::string_view> policy_names();

// Fails with k_invalid_argument naming the known policies when `name` is unknown.
[[nodiscard]] Expected<std::unique_ptr<PagingPolicy>, CacheError> make_policy(std::string_view name,
                                                                              std::uint64_t seed = 1);

// One factory per implementation file.
[[nodiscard]] std::unique_ptr<PagingPolicy> make_lru_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_fifo_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_lfu_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_clock_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_random_policy(std::uint64_t seed);
[[nodiscard]] std::unique_ptr<PagingPolicy> make_marking_policy(std::uint64_t seed);
[[nodiscard]] std::unique_ptr<PagingPolicy> make_lru_per_layer_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_llru_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_belady_policy();
[[nodiscard]] std::unique_ptr<PagingPolicy> make_slim_policy();

}  // namespace slimcache::agent::cache
