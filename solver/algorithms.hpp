#pragma once
// Every placement algorithm behind one interface (MODEL.md sections 3.2-3.4).
//
//  name                 guarantee (honest)                                 complexity
//  greedy               K=1, uniform sizes, one client: exact (the K=1     flow: O(min(G, sum C) * G * N)
//                       problem is then an assignment; min-cost flow by
//                       successive shortest paths), status = optimal.
//                       K=1 otherwise: lazy density greedy + best single   O(N*G*eval + picks*log)
//                       item. Uniform sizes: the budgets form a partition
//                       matroid, greedy is a 1/2-approximation (Fisher,
//                       Nemhauser, Wolsey 1978). One node, any sizes:
//                       (1-1/e)/2 (Leskovec et al. 2007). Several
//                       knapsacks: no proven bound. K>1: none (F is not
//                       submodular; singles gain nothing until a set is
//                       complete).
//  sgd                  successive greedy decomposition (MODEL.md 3.3):    passes * N * node step
//                       best-response passes over the nodes, each node     (single_node.hpp) with
//                       step = per-layer profiles + exact (max,+) DP;      combine_exact
//                       J never decreases, ends at a node-wise local
//                       optimum (w.r.t. the profile chains). Starts: the
//                       warm start (or nothing); also the best cheap
//                       baseline when that is better than the first end
//                       point (so never worse than those baselines); when
//                       nodes hold fewer than K experts per layer and the
//                       ascent left a node empty, also a cooperative start
//                       (sampled sets completed with all nodes' room); on
//                       small instances (N*G <= 256) also 16 seeded random
//                       restarts, and every ascent's end is polished by     small: + sweeps *
//                       swaps, exchanges between two nodes and fills       O(N*G*(held + N*held))
//                       (first improvement, <= 50 sweeps), which reach     evaluator moves
//                       what one node's step cannot; on larger instances  large: + per move
//                       the chosen end is polished by node-local swaps     O(sets of 1-2 layers
//                       and fills (exact bound pruning, until a sweep      * K), first turn
//                       finds none, <= 10 sweeps). No approximation ratio  O(N * sets)
//                       for K>1 (NP-hard); the report measures the gap.
//  sgd-fast             the same with combine_fast: each node step is      same, combination in
//                       within (1-eps) of the exact DP on the same         O(P log P) when the
//                       profiles (certified by LP bounds, else a pruned    certificate holds, else
//                       DP with the same bound, maxplus.hpp); passes stop  the pruned DP; fewer
//                       once one gains < fast_min_relative_gain (0.01) x J passes than sgd
//                       (sgd: 1e-4), so it may end below sgd's local
//                       optimum by about that much; J never decreases.
//  random               fill each node with random experts (seeded)        O(N*G)
//  popularity           every node: globally most popular first            O(N*G + G log G)
//  popularity-distinct  most popular experts spread, one copy each,        O(G*N + G log G)
//                       nearest node (lowest weighted latency) first
//  layer-uniform        each node splits its budget equally over layers,   O(N*G + G log G)
//                       most popular experts of each layer
//  greedy-marginal      the K=1 greedy run on marginals (K>1 ignored),     as greedy
//                       evaluated on the real objective
//  brute-force          exact: every product of maximal feasible per-node  product of per-node
//                       subsets (F is monotone); refuses (Error) above 24  maximal subsets
//                       experts or brute_force_limit placements
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
  double fast_min_relative_gain = 0.01;     // sgd-fast: stop when a pass improves J by less than this * J
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
  std::size_t passes = 0;     // sgd: best-response passes run (of the ascent that won)
  std::size_t node_steps = 0;    // sgd: single-node steps run, over every ascent
  double combine_seconds = 0.0;  // sgd: measured time of their cross-layer combinations
                                 // (combine_exact / combine_fast), over every ascent
  std::string note;           // e.g. "exact: min-cost flow"
};

struct SolveError {
  std::string message;
};

[[nodiscard]] Expected<SolveResult, SolveError> solve(const Problem& problem, Algorithm algorithm,
                                                      const SolveOptions& options = {});

}  // namespace slimcache::solver
