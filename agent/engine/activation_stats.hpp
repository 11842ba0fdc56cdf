#pragma once
// Decayed activation statistics of one client (MODEL.md section 4), folded by the daemon
// from the engine segment's cumulative counters and recent top-K sets.
//
// Marginals: per (layer, expert) an exponentially decayed count with half-life
// `half_life_s`; p_{l,e} = count_{l,e} / (sum_e count_{l,e} / K), i.e. the decayed share of
// tokens that chose e. Sets: the last `sets_per_layer` top-K sets of each layer (a ring),
// each with weight 1: the empirical pi of recent traffic. Memory is
// O(L * E + L * sets_per_layer * K), bounded whatever the traffic.
// Not thread-safe: the daemon folds on its own strand.
#include <cstdint>
#include <span>
#include <vector>

#include "solver/instance.hpp"

namespace slimcache::agent::engine {

class ActivationStats {
 public:
  struct Options {
    double half_life_s = 300.0;
    std::uint32_t sets_per_layer = 256;
  };
  ActivationStats(std::uint32_t layers, std::uint32_t experts, std::uint32_t top_k, Options options);

  // `totals` are cumulative counters (layer-major) read at time `now_s`; the increase since
  // the previous call is added after decaying what was there. A counter that went down
  // (the engine segment was recreated) restarts from its new value.
  void fold_counters(std::span<const std::uint64_t> totals, double now_s);
  // One observed top-K set; ignored unless it has exactly top_k distinct ids in range.
  void add_set(std::uint32_t layer, std::span<const std::uint16_t> ids);

  // Statistics in the solver's form, one LayerStats per layer. A layer never observed gets
  // uniform marginals and no sets.
  [[nodiscard]] std::vector<solver::LayerStats> snapshot() const;
  [[nodiscard]] double tokens(std::uint32_t layer) const;  // decayed tokens seen at a layer

  // Mean over layers of the total-variation distance between the two marginal
  // distributions (p / K): 0 identical, 1 disjoint. Layers missing on either side count 0.
  [[nodiscard]] static double drift(const std::vector<solver::LayerStats>& a, const std::vector<solver::LayerStats>& b);

 private:
  std::uint32_t m_layers;
  std::uint32_t m_experts;
  std::uint32_t m_top_k;
  Options m_options;
  std::vector<double> m_counts;          // decayed, layer-major
  std::vector<std::uint64_t> m_last;     // last cumulative totals
  double m_last_time = 0.0;
  bool m_have_last = false;
  std::vector<std::uint16_t> m_sets;     // [layer][slot][k]
  std::vector<std::uint32_t> m_fill;     // sets stored per layer
  std::vector<std::uint32_t> m_next;     // next slot per layer
};

}  // namespace slimcache::agent::engine
