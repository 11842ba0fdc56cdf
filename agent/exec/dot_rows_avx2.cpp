// dot_rows for x86 with AVX2 + FMA + F16C (compiled with those flags; called only when the
// CPU has all three).
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "agent/exec/dot_rows_impl.hpp"

namespace slimcache::agent::exec::detail {
namespace {

struct Avx2 {
  using V = __m256;
  static constexpr std::size_t W = 8;
  static constexpr int max_tokens = 4;  // 16 ymm registers: 4 tokens x 2 vectors + weights
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load_bf16(const std::uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static V load_f16(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static V fma(V a, V b, V acc) { return _mm256_fmadd_ps(a, b, acc); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float hsum(V v) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
    return _mm_cvtss_f32(s1);
  }
};

}  // namespace

void dot_rows_avx2(const DotRowsArgs& args) { dot_rows_vector<Avx2>(args); }

}  // namespace slimcache::agent::exec::detail
#endif
