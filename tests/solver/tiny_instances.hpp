#pragma once
// Seeded tiny instances for cross-checking the algorithms against brute force.
#include <cstdint>

#include "solver/instance.hpp"
#include "solver/random.hpp"

namespace slimcache::solver::testing {

enum class Sizes { uniform, mixed };

struct TinySpec {
  std::size_t top_k = 1;
  Sizes sizes = Sizes::uniform;
  std::size_t clients = 1;
};

// 1-3 nodes, 1-2 layers, at most 8 experts in total, random latencies, budgets, sets.
inline Instance tiny_instance(std::uint64_t seed, const TinySpec& spec) {
  SplitMix64 rng(seed * 7919 + spec.top_k * 131 + spec.clients * 17 + (spec.sizes == Sizes::mixed ? 5 : 0));
  Instance in;
  in.model = "tiny";
  in.top_k = spec.top_k;
  const std::size_t K = spec.top_k;
  const std::size_t layers = K >= 4 ? 1 + rng.below(2) : 1 + rng.below(2);
  const std::size_t max_total = 8;
  for (std::size_t l = 0; l < layers; ++l) {
    std::size_t E = K + rng.below(3);
    if (E * layers > max_total) E = std::max(K, max_total / layers);
    std::vector<std::uint64_t> sizes(E, 1);
    if (spec.sizes == Sizes::mixed)
      for (auto& s : sizes) s = 1 + rng.below(3);
    in.expert_bytes.push_back(sizes);
  }
  std::uint64_t total = 0;
  for (const auto& layer : in.expert_bytes)
    for (auto s : layer) total += s;
  const std::size_t nodes = 1 + rng.below(3);
  in.hidden_state_bytes = 1.0;
  for (std::size_t n = 0; n < nodes; ++n) {
    Node node;
    node.name = "n" + std::to_string(n);
    node.budget_bytes = rng.below(total / 2 + 2);
    for (std::size_t l = 0; l < layers; ++l) node.exec_s.push_back(0.001 * (1 + rng.below(5)));
    in.nodes.push_back(node);
  }
  for (std::size_t u = 0; u < spec.clients; ++u) {
    Client c;
    c.name = "c" + std::to_string(u);
    c.weight = 0.5 + rng.uniform();
    if (rng.below(2) == 0) c.node = rng.below(nodes);
    for (std::size_t l = 0; l < layers; ++l) c.fallback_s.push_back(0.02 + 0.03 * rng.uniform());
    in.clients.push_back(c);
  }
  for (std::size_t u = 0; u < spec.clients; ++u)
    for (std::size_t n = 0; n < nodes; ++n)
      in.links.push_back(Link{0.001 + 0.01 * rng.uniform(), rng.below(6) == 0 ? 0.0 : 100.0 + 1000.0 * rng.uniform()});
  for (std::size_t u = 0; u < spec.clients; ++u)
    for (std::size_t l = 0; l < layers; ++l) {
      LayerStats st;
      const std::size_t E = in.expert_bytes[l].size();
      const std::size_t count = 1 + rng.below(6);
      for (std::size_t s = 0; s < count; ++s) {
        std::vector<ExpertId> ids(E);
        for (std::size_t e = 0; e < E; ++e) ids[e] = static_cast<ExpertId>(e);
        rng.shuffle(ids);
        st.sets.insert(st.sets.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(K));
        st.weights.push_back(0.1 + rng.uniform());
      }
      in.stats.push_back(st);
    }
  return in;
}

}  // namespace slimcache::solver::testing
