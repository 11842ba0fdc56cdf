#pragma once
// The flattened form of an Instance that every algorithm works on: experts get global
// ids g = layer_begin[l] + e, latencies D_{u,n,l} and D0_{u,l} are precomputed
// (MODEL.md section 2), and the sampled top-K sets are stored flat with an index from
// (client, expert) to the sets containing that expert.
//
// Client weights are normalised to shares (sum 1) and each (client, layer) sample to a
// distribution, so set_weight[s] = lambda_u * pi_{u,l}(A_s) and T(x) is the expected
// per-token expert latency in seconds. Immutable after build; safe to share across threads.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "solver/expected.hpp"
#include "solver/instance.hpp"

namespace slimcache::solver {

inline constexpr double k_unreachable = std::numeric_limits<double>::infinity();

struct Problem {
  std::size_t num_nodes = 0, num_clients = 0, num_layers = 0, num_experts = 0, top_k = 1;
  std::vector<std::size_t> layer_begin;      // num_layers + 1 entries
  std::vector<std::uint32_t> layer_of;       // per global expert
  std::vector<std::uint64_t> size;           // s_g in bytes
  std::vector<std::uint64_t> budget;         // Q_n
  std::vector<double> serve;                 // D_{u,n,l}: [(u * N + n) * L + l]; +inf if unreachable
  std::vector<double> fallback;              // D0_{u,l}: [u * L + l]
  std::vector<double> client_weight;         // lambda_u shares
  std::vector<double> popularity;            // lambda_u * p_{u,l,e}: [u * G + g]
  // Sets: members flat (top_k global ids each), weight, client; sets of (u, l) are
  // contiguous in [sets_begin[u * L + l], sets_begin[u * L + l + 1]).
  std::vector<std::uint32_t> set_members;
  std::vector<double> set_weight;
  std::vector<std::uint32_t> set_client;
  std::vector<std::size_t> sets_begin;
  // Index: sets of client u containing expert g are
  // index_sets[index_begin[u * G + g] .. index_begin[u * G + g + 1]).
  std::vector<std::size_t> index_begin;
  std::vector<std::uint32_t> index_sets;
  bool uniform_sizes = true;  // every expert has the same size

  [[nodiscard]] std::size_t num_sets() const { return set_weight.size(); }
  [[nodiscard]] double serve_latency(std::size_t u, std::size_t n, std::size_t l) const {
    return serve[(u * num_nodes + n) * num_layers + l];
  }
  [[nodiscard]] double fallback_latency(std::size_t u, std::size_t l) const { return fallback[u * num_layers + l]; }
  [[nodiscard]] std::span<const std::uint32_t> members(std::size_t s) const {
    return {set_members.data() + s * top_k, top_k};
  }
  [[nodiscard]] std::span<const std::uint32_t> sets_of(std::size_t u, std::size_t g) const {
    return {index_sets.data() + index_begin[u * num_experts + g],
            index_sets.data() + index_begin[u * num_experts + g + 1]};
  }
  [[nodiscard]] std::size_t layer_size(std::size_t l) const { return layer_begin[l + 1] - layer_begin[l]; }
};

// Validates and flattens. Identical sampled sets of one (client, layer) are merged
// (weights added). Cost O(total set members * log).
[[nodiscard]] Expected<Problem, InstanceError> build_problem(const Instance& instance);

// A placement x: x[n * G + g] = 1 when node n caches global expert g.
struct Placement {
  std::size_t num_nodes = 0, num_experts = 0;
  std::vector<std::uint8_t> bits;

  Placement() = default;
  Placement(std::size_t nodes, std::size_t experts) : num_nodes(nodes), num_experts(experts), bits(nodes * experts, 0) {}
  [[nodiscard]] bool has(std::size_t n, std::size_t g) const { return bits[n * num_experts + g] != 0; }
  void set(std::size_t n, std::size_t g, bool on) { bits[n * num_experts + g] = on ? 1 : 0; }
  [[nodiscard]] std::uint64_t bytes_on(const Problem& p, std::size_t n) const;
  [[nodiscard]] std::size_t count() const;
  friend bool operator==(const Placement&, const Placement&) = default;
};

}  // namespace slimcache::solver
