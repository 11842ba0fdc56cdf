#pragma once
// The straightforward reference for the expert kernel: plain loops in double precision over
// the stored weights (converted exactly), plus a per-element bound on how far the fp32
// kernel may be from it.
//
// Error bound (u = 2^-24, γ(n) = d·u / (1 − d·u) with d = k_accumulation_depth(n) + 1, the
// +1 for a product rounded before it is added where no FMA is used):
//   first matrices, row f:  |ĝ − g| ≤ e_g = γ(hidden) · Σ_c |W_gate[f][c]| |x_c|   (same for up: e_u)
//   SwiGLU:   s = silu(g), |silu'| ≤ 1.1, fp32 silu (exp, add, divide) adds ≤ 5u relative:
//             e_s = 1.1·e_g + 5u·(|s| + 1.1·e_g)
//             e_h = (|s| + e_s)·e_u + |u|·e_s + u·(|s| + e_s)(|u| + e_u)
//   two-matrix: relu is 1-Lipschitz and exact: e_h = e_g
//   output i: |ŷ_i − y_i| ≤ γ(ffn) · Σ_f |W_down[i][f]| (|h_f| + e_h,f) + Σ_f |W_down[i][f]| e_h,f
// This is a worst-case (rigorous) bound; real errors are far smaller.
#include <cstddef>
#include <span>
#include <vector>

#include "agent/exec/expert_payload.hpp"

namespace slimcache::agent::exec::testing {

struct ReferenceOutput {
  std::vector<double> y;      // tokens x hidden, exact up to double rounding
  std::vector<double> bound;  // tokens x hidden, the allowed |kernel − y|
};

// The stored weight at (row, col) of a matrix of the expert, as a double (exact).
double weight_at(const ExpertView& expert, const MatrixView& m, std::size_t row, std::size_t col);

ReferenceOutput reference_expert(const ExpertView& expert, std::span<const float> x, std::size_t tokens);

}  // namespace slimcache::agent::exec::testing
