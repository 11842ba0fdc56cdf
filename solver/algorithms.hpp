#pragma once
// Every placement algorithm behind one interface (MODEL.md sections 3.2-3.4).
//
//  name                 guarantee                                         complexity
//  greedy               K=1: lazy density greedy + best single item:      O(N*G*eval + picks*log)
//                       the (1-1/e)/2-style knapsack bound of the
//                       facility-location objective (monotone submodular).
//                       K=1, uniform sizes, one client: exact min-cost flow
//                       (successive shortest paths), result.exact = true.
//                       K>1: no guarantee (F is not submodular).
//  sgd                  successive greedy decomposition: best-response     passes * N * node step
//                       passes over nodes, each node step = per-layer      (single_node.hpp) with
//                       profiles + exact (max,+) DP. F never decreases;    combine_exact
//                       a local optimum of the node-wise moves. No
//                       approximation ratio for K>1 (NP-hard; measured).
//  sgd-fast             the same with combine_fast: each node step is      same, combination in
//                       within (1-eps) of the sgd node step on the same    O(P log P) when the
//                       profiles (certified, else exact DP).               certificate holds
//  random               fill each node with random experts (seeded)        O(N*G)
//  popularity           every node: globally most popular first            O(N*G + G log G)
//  popularity-distinct  most popular experts spread, one copy each,        O(G*N + G log G)
//                       nearest node (lowest weighted latency) first
//  layer-uniform        each node splits its budget equally over layers,   O(N*G + G log G)
//                       most popular experts of each layer
//  greedy-marginal      the K=1 greedy run on marginals (K>1 ignored),     as greedy
//                       evaluated on the real objective
//  brute-force          exact: every product of maximal feasible per-node  product of per-node
//                       subsets; refuses (Error) above options.brute_force  maximal subsets
//                       _limit combinations
// The MILP reference (GLPK) is not here: it lives in tests/solver/milp_reference.hpp.
//
// Failure (Expected error): invalid options (warm start of the wrong shape or over
// budget), brute force over its limit. Success always returns a feasible placement.
// Thread-safe: no shared state; the Problem is read-only.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "solver/problem.hpp"
#include "solver/single_node.hpp"

namespace slimcache::solver {

enum class Algorithm {
  greedy, sgd, sgd_fast, random, popularity, popularity_distinct, layer_uniform, greedy_marginal, brute_force
};

[[nodiscard]] std::span<const Algorithm> all_algorithms();  // brute-force excluded
[[nodiscard]] std::string_view algorithm_name(Algorithm a);
[[nodiscard]] std::optional<Algorithm> find_algorithm(std::string_view name);

struct SolveOptions {
  std::uint64_t seed = 1;                   // random baseline
  double epsilon = 0.01;                    // sgd-fast
  std::size_t max_passes = 20;              // sgd best-response passes (bound)
  double min_relative_gain = 1e-4;          // stop when a pass improves J by less than this * J
  const Placement* warm_start = nullptr;    // sgd/sgd-fast start here (must be feasible)
  MigrationCost migration;                  // sgd/sgd-fast: moves pay mu * bytes
  std::size_t brute_force_limit = std::size_t{1} << 22;
};

enum class SolveStatus { optimal, feasible };

struct SolveResult {
  Placement placement;
  double latency_s = 0.0;     // T(x)
  double empty_latency_s = 0.0;
  double reduction_s = 0.0;   // T(empty) - T(x)
  double migration_bytes = 0.0;
  SolveStatus status = SolveStatus::feasible;  // optimal: proven (brute force, exact flow)
  std::size_t passes = 0;     // sgd: best-response passes run
  std::string note;           // e.g. "exact: min-cost flow"
};

struct SolveError {
  std::string message;
};

[[nodiscard]] Expected<SolveResult, SolveError> solve(const Problem& problem, Algorithm algorithm,
                                                      const SolveOptions& options = {});

}  // namespace slimcache::solver
