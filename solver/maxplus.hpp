#pragma once
// Combining per-layer profiles under one budget: the (max,+) convolution chain of
// MODEL.md section 3.3.
//
// Input: profiles g_l, where g_l[c] is the best gain of layer l using at most c budget
// units (c = 0 .. size-1). Profiles must be non-decreasing with g_l[0] >= 0; use
// make_staircase() to turn any achievable-points list into one. Capacity C units.
//
//   G_0(c) = 0,   G_l(c) = max_{0 <= k <= c} G_{l-1}(c - k) + g_l(k),   answer G_L(C)
//
// combine_exact: the DP above, O(sum_l C * |g_l|) time, O(L * C) memory. Exact.
//
// combine_fast: (1 - eps)-approximate, usually in O(P log P) for P = total profile length.
//   1. Upper concave envelope of each profile (exact when the profile is concave).
//   2. Take envelope segments by decreasing slope while they fit (the classic greedy for a
//      separable concave knapsack); the first segment that does not fit, taken
//      fractionally, gives an upper bound UB >= OPT (LP relaxation of the envelopes).
//   3. Repair: a few swaps (give back the flattest segments of other layers for a segment
//      that did not fit), then spend the leftover units on the real profiles.
//   4. Certificate: if value >= (1 - eps) * UB the answer is returned. Else a better
//      incumbent: the exact DP with units in blocks of b = ceil(C / 64) (points at multiples
//      of b), then the leftover spent as in 3; O(L * 64 * P_l / b). On step-shaped
//      profiles the greedy of 2-3 can end tens of percent below OPT (a layer whose next
//      hull segment does not fit gets nothing more) where the coarse DP is within about a
//      percent; certificate again. Else a tighter bound, branching on the layer f the LP
//      took fractionally: UB2 = max_k g_f(k) + LP_{-f}(C - k) >= OPT (O(|g_f| log P));
//      certificate again.
//   5. Else a pruned exact DP (reduced-cost fixing): layer l at k units caps any allocation
//      at g_l(k) + LP_{-l}(C - k); points capped below value / (1 - eps), and points where
//      the staircase is flat, are dropped (the current point of each layer is kept); the DP
//      over the kept points returns >= min(OPT, value / (1 - eps)) and >= value. The better
//      the incumbent `value`, the fewer points survive. O(L * (S + C)) for the caps
//      (S = envelope segments) + O(C * kept points), each layer's row only over the
//      capacities later layers can read.
//   Guarantee (always): value >= (1 - eps) * OPT; with eps = 0 the answer is optimal. When
//   every profile is concave the greedy is exact and the certificate holds at step 4.
//   used_exact_dp reports that step 5 ran.
#include <cstddef>
#include <span>
#include <vector>

namespace slimcache::solver {

struct Combination {
  std::vector<std::size_t> units;  // units given to each layer (an index into its profile)
  double value = 0.0;              // sum_l g_l[units[l]]
  bool used_exact_dp = false;      // combine_fast ran its pruned DP (certificates failed)
  double upper_bound = 0.0;        // combine_fast: the best bound found, >= OPT (equals value for the DP)
};

// Non-decreasing prefix maximum, clamped at 0 (taking nothing is always possible).
void make_staircase(std::vector<double>& profile);

[[nodiscard]] Combination combine_exact(std::span<const std::vector<double>> profiles, std::size_t capacity);
[[nodiscard]] Combination combine_fast(std::span<const std::vector<double>> profiles, std::size_t capacity,
                                       double epsilon);

}  // namespace slimcache::solver
