#pragma once
// A routing trace: for every generated token, the top-K expert ids the router chose at
// each MoE layer, in layer order. This is the request stream an expert cache sees and
// the raw material of activation statistics (MODEL.md sections 4 and 5).
//
// Storage is flat and token-major: ids[(token * num_layers + layer) * top_k + i].
// Within one (token, layer) the ids are distinct; their order carries no meaning.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace slimcache::solver {

using ExpertId = std::uint16_t;

struct RoutingTrace {
  std::size_t num_layers = 0;
  std::size_t top_k = 0;
  std::size_t num_experts = 0;  // experts per layer: declared, or max id seen + 1
  std::vector<ExpertId> ids;

  [[nodiscard]] std::size_t num_tokens() const {
    return (num_layers == 0 || top_k == 0) ? 0 : ids.size() / (num_layers * top_k);
  }
  [[nodiscard]] std::span<const ExpertId> set(std::size_t token, std::size_t layer) const {
    return {ids.data() + (token * num_layers + layer) * top_k, top_k};
  }
};

}  // namespace slimcache::solver
