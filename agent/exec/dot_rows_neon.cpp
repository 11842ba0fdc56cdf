// dot_rows for aarch64 with Advanced SIMD (NEON is part of the aarch64 baseline).
#if defined(__aarch64__)
#include <arm_neon.h>

#include "agent/exec/dot_rows_impl.hpp"

namespace slimcache::agent::exec::detail {
namespace {

struct Neon {
  using V = float32x4_t;
  static constexpr std::size_t W = 4;
  static constexpr int max_tokens = 8;  // 32 q registers
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float* p) { return vld1q_f32(p); }
  static V load_bf16(const std::uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static V load_f16(const std::uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static V fma(V a, V b, V acc) { return vfmaq_f32(acc, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static float hsum(V v) { return vaddvq_f32(v); }
};

}  // namespace

void dot_rows_neon(const DotRowsArgs& args) { dot_rows_vector<Neon>(args); }

}  // namespace slimcache::agent::exec::detail
#endif
