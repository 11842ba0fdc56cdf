#pragma once
// Replays a layered request stream through one PagingPolicy and counts what it costs.
//
// For every step (one top-K set of one layer of one token) the set is pinned, hits are
// reported to the policy first, then each missing page is loaded (evicting the policy's
// victim when it needs room). After the step the policy may prefetch. Counts:
//   requests      pages requested (top_k per step)
//   misses        demand misses: requested pages that were not resident
//   cold_misses   misses on pages never requested before (included in misses)
//   prefetch_loads, total_loads = misses + prefetch_loads
// Steps of the first `warmup_tokens` tokens are served but not counted.
// Cost: O(steps * top_k * cost of the policy's choose_victim). No I/O, not thread-safe.
#include <cstddef>
#include <string>

#include "agent/cache/paging_policy.hpp"
#include "solver/routing_trace.hpp"

namespace slimcache::agent::cache {

struct ReplayOptions {
  std::size_t capacity = 0;  // pages
  std::size_t warmup_tokens = 0;
};

struct ReplayStats {
  std::string policy;
  std::size_t capacity = 0;
  std::size_t requests = 0;
  std::size_t misses = 0;
  std::size_t cold_misses = 0;
  std::size_t prefetch_loads = 0;
  std::size_t evictions = 0;
  [[nodiscard]] std::size_t total_loads() const { return misses + prefetch_loads; }
  [[nodiscard]] double miss_ratio() const {
    return requests == 0 ? 0.0 : static_cast<double>(misses) / static_cast<double>(requests);
  }
};

// Pages of a routing trace: (layer, expert) -> layer * num_experts + expert.
[[nodiscard]] RequestSequence to_request_sequence(const solver::RoutingTrace& trace);

// Fails (k_invalid_argument) when the policy rejects the capacity (e.g. fewer pages than
// one layer's top-K), or when the policy misbehaves (returns a pinned or absent victim).
[[nodiscard]] Expected<ReplayStats, CacheError> replay(const RequestSequence& sequence, PagingPolicy& policy,
                                                       const ReplayOptions& options);

// capacity = round(fraction * num_pages), at least 1.
[[nodiscard]] std::size_t capacity_for_fraction(const PagingGeometry& geometry, double fraction);

}  // namespace slimcache::agent::cache
