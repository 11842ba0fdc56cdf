#pragma once
// A feasibility checker that shares no code with the solver: it reads the Instance,
// not the flattened Problem, and recomputes every node's bytes from the layer tables.
#include <string>

#include "solver/instance.hpp"
#include "solver/problem.hpp"

namespace slimcache::solver::testing {

// Empty string when feasible, else why not.
inline std::string infeasibility(const Instance& in, const Placement& x) {
  std::size_t total = 0;
  for (const auto& layer : in.expert_bytes) total += layer.size();
  if (x.num_nodes != in.nodes.size() || x.num_experts != total || x.bits.size() != total * in.nodes.size())
    return "placement shape does not match the instance";
  for (std::size_t n = 0; n < in.nodes.size(); ++n) {
    std::uint64_t used = 0;
    std::size_t g = 0;
    for (const auto& layer : in.expert_bytes)
      for (auto bytes : layer) {
        const auto bit = x.bits[n * total + g++];
        if (bit > 1) return "bit value other than 0/1";
        if (bit) used += bytes;
      }
    if (used > in.nodes[n].budget_bytes)
      return "node " + std::to_string(n) + " uses " + std::to_string(used) + " > budget " +
             std::to_string(in.nodes[n].budget_bytes);
  }
  return {};
}

}  // namespace slimcache::solver::testing
