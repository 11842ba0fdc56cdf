// dot_rows in plain C++: the portable fallback (armhf, x86 without AVX2/F16C, and the
// reference point for the vector variants). Weights are converted one chunk at a time into
// a small fp32 buffer, then every token of a block accumulates over it with 8 partial sums.
#include <array>

#include "agent/exec/dot_rows_impl.hpp"

namespace slimcache::agent::exec::detail {
namespace {

constexpr std::size_t k_chunk = 256;
constexpr std::size_t k_lanes = 8;
constexpr std::size_t k_token_block = 8;

template <class E>
void dot_rows_scalar_typed(const DotRowsArgs& a) {
  // Through void*: the caller checked that the weights are aligned to their element size
  // (a direct cast trips -Wcast-align on strict-alignment targets such as armhf).
  const auto* w = static_cast<const typename E::T*>(static_cast<const void*>(a.weights));
  std::array<float, k_chunk> row{};
  std::array<std::array<float, k_lanes>, k_token_block> acc{};
  for (std::size_t r = a.row_begin; r < a.row_end; ++r) {
    const auto* wr = w + r * a.cols;
    for (std::size_t t0 = 0; t0 < a.tokens; t0 += k_token_block) {
      const std::size_t tb = a.tokens - t0 < k_token_block ? a.tokens - t0 : k_token_block;
      for (std::size_t t = 0; t < tb; ++t) acc[t].fill(0.0f);
      for (std::size_t c0 = 0; c0 < a.cols; c0 += k_chunk) {
        const std::size_t n = a.cols - c0 < k_chunk ? a.cols - c0 : k_chunk;
        for (std::size_t i = 0; i < n; ++i) row[i] = E::scalar(wr[c0 + i]);
        for (std::size_t t = 0; t < tb; ++t) {
          const float* x = a.x + (t0 + t) * a.x_stride + c0;
          auto& lanes = acc[t];
          std::size_t i = 0;
          for (; i + k_lanes <= n; i += k_lanes)
            for (std::size_t l = 0; l < k_lanes; ++l) lanes[l] += row[i + l] * x[i + l];
          for (; i < n; ++i) lanes[i % k_lanes] += row[i] * x[i];
        }
      }
      for (std::size_t t = 0; t < tb; ++t) {
        auto& l = acc[t];
        const float sum = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
        a.out[(t0 + t) * a.out_stride + r] = sum;
      }
    }
  }
}

}  // namespace

void dot_rows_scalar(const DotRowsArgs& args) {
  switch (args.dtype) {
    case WeightDtype::k_f32: dot_rows_scalar_typed<ElemF32>(args); return;
    case WeightDtype::k_bf16: dot_rows_scalar_typed<ElemBf16>(args); return;
    case WeightDtype::k_f16: dot_rows_scalar_typed<ElemF16>(args); return;
  }
}

}  // namespace slimcache::agent::exec::detail
