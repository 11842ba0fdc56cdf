#pragma once
// Internal to the kernel: the memory-bound inner loop, one implementation per instruction set.
//
// dot_rows computes out[t * out_stride + r] = sum_c W[r][c] * x[t * x_stride + c] for rows
// r in [row_begin, row_end) and tokens t in [0, tokens): each weight row is read from memory
// once and multiplied with every token (GEMV for one token, a skinny GEMM for a few).
// Accumulation is in fp32 with at least 8 independent partial sums per dot product, so an
// n-term dot product passes each product through at most k_accumulation_depth(n) roundings
// (expert_kernel.hpp states the resulting error bound). Weights are converted to fp32 exactly.
// Each variant is compiled in its own translation unit with its own -m flags and everything
// in it has internal linkage, so no instruction-set-specific code leaks into other units.
#include <cstddef>
#include <cstdint>

#include "agent/exec/weight_dtype.hpp"

namespace slimcache::agent::exec::detail {

struct DotRowsArgs {
  const std::byte* weights = nullptr;  // rows x cols elements of `dtype`, row-major
  WeightDtype dtype = WeightDtype::k_f32;
  std::size_t cols = 0;
  std::size_t row_begin = 0;
  std::size_t row_end = 0;
  const float* x = nullptr;  // tokens x_stride-spaced vectors of `cols` floats
  std::size_t x_stride = 0;
  std::size_t tokens = 0;
  float* out = nullptr;  // out[t * out_stride + r]
  std::size_t out_stride = 0;
};

using DotRowsFn = void (*)(const DotRowsArgs&);

void dot_rows_scalar(const DotRowsArgs& args);
#if defined(__x86_64__) || defined(__i386__)
void dot_rows_avx2(const DotRowsArgs& args);    // needs avx2, fma, f16c at run time
void dot_rows_avx512(const DotRowsArgs& args);  // needs avx512f at run time
#endif
#if defined(__aarch64__)
void dot_rows_neon(const DotRowsArgs& args);
#endif

}  // namespace slimcache::agent::exec::detail
