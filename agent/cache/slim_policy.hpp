#pragma once
// slim: our default paging policy. It uses what the daemon knows beyond the resident set:
//  - a decayed request frequency for every page of the model (resident or not), aged in
//    rounds of the page's own layer: f <- f * decay^(rounds since last update) + 1 on a request;
//  - the layer structure: layers come back in a fixed cyclic order, so a page of a layer
//    that comes back sooner is needed sooner.
// From f it estimates the page's per-round request probability r = f * (1 - decay), and from
// the layer order the number of steps until its layer comes back (b + 1, b in 0..L-1). The
// victim is the unpinned page with the largest expected distance to its next request,
//     (b + 1) + L * (1 / r - 1),
// i.e. a furthest-in-future guess (Belady) made from statistics instead of the future.
// Ties: older last use first. Cost per victim: O(resident pages).
// Prefetch: it learns, with decay, how often expert b of layer l+1 follows expert a of layer l
// within a token (P(b | a)); after serving a set A of layer l it loads ahead the pages b of
// layer l+1 whose mean estimate over a in A reaches `prefetch_threshold`, at most `prefetch`
// of them, never into the last 3 * top_k slots. A prefetched page is kept until the next
// step. Cost per step: O(top_k * num_experts). Parameters were chosen on the OLMoE trace
// (docs/cache.md says how): they are not a guarantee for other models.
#include <memory>

#include "agent/cache/paging_policy.hpp"

namespace slimcache::agent::cache {

struct SlimParams {
  double decay = 0.8;  // per round of the page's own layer
  std::size_t prefetch = 8;         // at most this many next-layer pages loaded ahead per step
  double prefetch_threshold = 0.45;  // estimated probability needed to prefetch a page
  double co_decay = 0.9;            // per occurrence, for the layer-to-layer statistics
};

[[nodiscard]] std::unique_ptr<PagingPolicy> make_slim_policy(const SlimParams& params);

}  // namespace slimcache::agent::cache
