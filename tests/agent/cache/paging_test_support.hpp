#pragma once
// Builds small request sequences by hand for the paging tests.
#include <initializer_list>
#include <vector>

#include "agent/cache/paging_policies.hpp"
#include "agent/cache/paging_simulator.hpp"

namespace slimcache::agent::cache::testing {

// tokens[t][l] is the set of expert ids of layer l for token t.
inline RequestSequence make_sequence(std::size_t num_experts,
                                     const std::vector<std::vector<std::vector<std::size_t>>>& tokens) {
  RequestSequence seq;
  seq.geometry.num_layers = tokens.front().size();
  seq.geometry.top_k = tokens.front().front().size();
  seq.geometry.num_experts = num_experts;
  for (const auto& token : tokens)
    for (std::size_t l = 0; l < token.size(); ++l)
      for (std::size_t e : token[l]) seq.pages.push_back(static_cast<PageId>(l * num_experts + e));
  return seq;
}

// One layer, top-1: classic paging.
inline RequestSequence make_classic(std::size_t num_pages, std::initializer_list<std::size_t> pages) {
  std::vector<std::vector<std::vector<std::size_t>>> tokens;
  for (std::size_t p : pages) tokens.push_back({{p}});
  return make_sequence(num_pages, tokens);
}

inline ReplayStats run(const RequestSequence& seq, std::string_view policy, std::size_t capacity,
                       std::uint64_t seed = 1) {
  auto sut = make_policy(policy, seed);
  EXPECT_TRUE(sut.has_value());
  auto stats = replay(seq, **sut, {capacity, 0});
  EXPECT_TRUE(stats.has_value()) << (stats ? "" : stats.error().message);
  return stats ? *stats : ReplayStats{};
}

}  // namespace slimcache::agent::cache::testing
