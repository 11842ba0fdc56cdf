#pragma once
// The single-node subproblem of the successive greedy decomposition (MODEL.md 3.3, 3.5):
// with every other node's placement fixed, choose node n's content B_n within Q_n
// maximising
//     J(B_n) = F(x_{-n} + B_n) - F(x_{-n}) - mu * bytes(B_n \ current_n)
// (mu = migration cost in seconds of per-token latency per byte; 0 disables it).
// This is the step each daemon runs in decentralised solving: it reads the others'
// placements from the evaluator and returns node n's new content; it changes nothing.
//
// Method. T separates by layer given x_{-n}, so for every layer l a profile
// g_l(c) = best J gain of layer l with at most c budget units is built from candidate
// chains, each valued exactly (incremental evaluation over the sets touching an expert):
//   - a peeling chain: the "binary" view in which a sampled set A gains
//     w_A * (lat(A) - floor(A)) once all its members that n would speed up are cached;
//     repeatedly drop the expert with the least remaining weight per byte (set
//     completion, so co-activated experts stay together); the chain is the reverse order;
//   - a popularity chain (initial weight per byte, descending), for layers of at most
//     popularity_chain_max_experts experts;
//   - a forward completion chain (layers of at most completion_chain_max_experts): keep
//     completing the sampled set with the best value per missing unit;
//   - exact enumeration of all subsets when 2^E_l * (set work of the layer) is small.
// Profiles are combined across layers with combine_exact or combine_fast (maxplus.hpp).
// Budget units: the expert size when sizes are uniform (the budget is then a
// cardinality), else a common divisor, coarsened (sizes rounded up) so that a node has at
// most 2^16 units; rounding up keeps every answer feasible.
// Guarantee: none for the chains in general (the problem is NP-hard for K > 1); for K = 1
// with uniform sizes the peeling chain is exact (values are additive) and so is the
// node step. With enumeration (small layers) and combine_exact the step is exact.
// Complexity per call: O(sum_l [U*E_l*N + set members of layer l * K * log]) plus the
// combination: O(L * C * E) exact, O(P log P) fast (P = total profile length).
// Thread-safe if each thread has its own Evaluator.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "solver/evaluator.hpp"

namespace slimcache::solver {

enum class Combine { exact, fast };

// How a layer's chains are peeled and valued; both give the same chains and profiles, bit
// for bit. fast: block minima for the peeling (BlockMin) and per-set counts of the members
// at the set's latency, so a set's maximum is recomputed only when its last slowest member
// gets faster. plain: linear scans and a full recomputation; kept as the tests' oracle.
enum class StepKernels { fast, plain };

struct MigrationCost {
  const Placement* current = nullptr;  // the deployed placement; nullptr: no migration cost
  double seconds_per_byte = 0.0;       // mu
};

struct SingleNodeOptions {
  Combine combine = Combine::fast;
  double epsilon = 0.01;  // for Combine::fast
  StepKernels kernels = StepKernels::fast;
  MigrationCost migration;
  std::size_t enumerate_work_limit = std::size_t{1} << 16;  // 2^E_l * set work per layer
  std::size_t popularity_chain_max_experts = 32;             // larger layers: no popularity chain
  std::size_t completion_chain_max_experts = 64;             // larger layers: no completion chain
};

struct SingleNodeResult {
  std::vector<std::uint32_t> experts;  // global expert ids for node n
  double gain = 0.0;                   // J(B_n) as defined above (exact)
  bool used_exact_dp = false;          // combine_fast ran its pruned DP (maxplus.hpp)
  double combine_seconds = 0.0;        // measured time of the cross-layer combination alone
};

// Memo of per-layer profiles between calls, for one Problem and one SingleNodeOptions:
// a layer's profile is rebuilt only when the other nodes' content of that layer changed
// (keyed by a 64-bit hash of it). Treat the members as opaque. Not thread-safe.
struct SingleNodeCache {
  struct Layer {
    std::uint64_t key = 0;
    bool valid = false;
    std::vector<double> profile;
    std::vector<int> kind;
    std::vector<std::uint64_t> arg;
    std::vector<std::vector<std::uint32_t>> chains;
  };
  std::vector<Layer> layers;  // [node * L + l]
  struct Scratch {             // per-set work arrays, reused between calls
    std::vector<double> lat, base_lat;
    std::vector<std::uint64_t> needed;
    std::vector<std::uint32_t> cnt, base_cnt;
  } scratch;
};

[[nodiscard]] SingleNodeResult solve_single_node(const Evaluator& eval, std::size_t node,
                                                 const SingleNodeOptions& options = {},
                                                 SingleNodeCache* cache = nullptr);

// Budget units used for node n: unit size in bytes (see above).
[[nodiscard]] std::uint64_t budget_unit(const Problem& problem, std::size_t node);

}  // namespace slimcache::solver
