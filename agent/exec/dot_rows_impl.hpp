#pragma once
// The shared body of the vector dot_rows variants (see dot_rows.hpp), written once over a
// small traits type S per instruction set:
//   using V; W (floats per vector); max_tokens (token block that fits the registers);
//   zero(), load(const float*), load_bf16(const uint16_t*), load_f16(const uint16_t*),
//   fma(a, b, acc) = a*b + acc, add(a, b), hsum(v).
// Include it only from a dot_rows_<isa>.cpp, inside nothing but after the intrinsics
// header: every definition has internal linkage (anonymous namespace) on purpose, so that
// the per-file -m flags never produce a shared inline symbol the linker could pick for
// another unit.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "agent/exec/dot_rows.hpp"

namespace slimcache::agent::exec::detail {
namespace {

// memcpy rather than std::bit_cast: a template instantiated here could be emitted as a
// shared weak symbol compiled with this unit's -m flags.
inline float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float scalar_bf16(std::uint16_t bits) { return from_bits(static_cast<std::uint32_t>(bits) << 16); }

inline float scalar_f16(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return from_bits(sign);
  exponent = 113;
  while ((mantissa & 0x400u) == 0) {  // at most 10 iterations
    mantissa <<= 1;
    --exponent;
  }
  return from_bits(sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13));
}

struct ElemF32 {
  using T = float;
  template <class S>
  static typename S::V load(const T* p) { return S::load(p); }
  static float scalar(T v) { return v; }
};
struct ElemBf16 {
  using T = std::uint16_t;
  template <class S>
  static typename S::V load(const T* p) { return S::load_bf16(p); }
  static float scalar(T v) { return scalar_bf16(v); }
};
struct ElemF16 {
  using T = std::uint16_t;
  template <class S>
  static typename S::V load(const T* p) { return S::load_f16(p); }
  static float scalar(T v) { return scalar_f16(v); }
};

// One weight row times TB tokens, U vectors per step (TB * U accumulators).
template <class S, class E, int TB, int U>
inline void row_times_tokens(const typename E::T* w, std::size_t cols, const float* x, std::size_t x_stride,
                             float* out, std::size_t out_stride) {
  using V = typename S::V;
  constexpr std::size_t W = S::W;
  V acc[TB][U];
  for (int t = 0; t < TB; ++t)
    for (int u = 0; u < U; ++u) acc[t][u] = S::zero();
  std::size_t c = 0;
  for (; c + W * U <= cols; c += W * U) {
    V wv[U];
    for (int u = 0; u < U; ++u) wv[u] = E::template load<S>(w + c + u * W);
    for (int t = 0; t < TB; ++t)
      for (int u = 0; u < U; ++u) acc[t][u] = S::fma(wv[u], S::load(x + t * x_stride + c + u * W), acc[t][u]);
  }
  for (; c + W <= cols; c += W) {
    const V wv = E::template load<S>(w + c);
    for (int t = 0; t < TB; ++t) acc[t][0] = S::fma(wv, S::load(x + t * x_stride + c), acc[t][0]);
  }
  for (int t = 0; t < TB; ++t) {
    for (int step = 1; step < U; step *= 2)
      for (int u = 0; u + step < U; u += 2 * step) acc[t][u] = S::add(acc[t][u], acc[t][u + step]);
    float sum = S::hsum(acc[t][0]);
    for (std::size_t cc = c; cc < cols; ++cc) sum += E::scalar(w[cc]) * x[t * x_stride + cc];
    out[t * out_stride] = sum;
  }
}

// Row r times tokens [t0, t0 + TB).
template <class S, class E, int TB, int U>
inline void row_block(const DotRowsArgs& a, const typename E::T* w, std::size_t r, std::size_t t0) {
  row_times_tokens<S, E, TB, U>(w + r * a.cols, a.cols, a.x + t0 * a.x_stride, a.x_stride,
                                a.out + t0 * a.out_stride + r, a.out_stride);
}

template <class S, class E>
inline void dot_rows_typed(const DotRowsArgs& a) {
  // Through void*: the caller checked that the weights are aligned to their element size
  // (a direct cast trips -Wcast-align on strict-alignment targets such as armhf).
  const auto* w = static_cast<const typename E::T*>(static_cast<const void*>(a.weights));
  for (std::size_t r = a.row_begin; r < a.row_end; ++r) {  // the row stays in L1 across token blocks
    std::size_t t = 0;
    if constexpr (S::max_tokens >= 8)
      for (; t + 8 <= a.tokens; t += 8) row_block<S, E, 8, 2>(a, w, r, t);
    for (; t + 4 <= a.tokens; t += 4) row_block<S, E, 4, 2>(a, w, r, t);
    for (; t + 2 <= a.tokens; t += 2) row_block<S, E, 2, 4>(a, w, r, t);
    for (; t < a.tokens; ++t) row_block<S, E, 1, 4>(a, w, r, t);
  }
}

template <class S>
inline void dot_rows_vector(const DotRowsArgs& a) {
  switch (a.dtype) {
    case WeightDtype::k_f32: dot_rows_typed<S, ElemF32>(a); return;
    case WeightDtype::k_bf16: dot_rows_typed<S, ElemBf16>(a); return;
    case WeightDtype::k_f16: dot_rows_typed<S, ElemF16>(a); return;
  }
}

}  // namespace
}  // namespace slimcache::agent::exec::detail
