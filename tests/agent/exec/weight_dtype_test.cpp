#include "agent/exec/weight_dtype.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace slimcache::agent::exec {
namespace {

// An independent decoding of an IEEE binary16 pattern, straight from the definition.
double f16_by_definition(std::uint16_t bits) {
  const int sign = (bits >> 15) ? -1 : 1;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 0x1f) return mantissa == 0 ? sign * INFINITY : NAN;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(WeightDtype, F16ToF32MatchesTheDefinitionForAllPatterns) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const auto b = static_cast<std::uint16_t>(bits);
    const float sut = f16_to_f32(b);
    const double want = f16_by_definition(b);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(sut)) << bits;
    } else {
      EXPECT_EQ(static_cast<double>(sut), want) << bits;
      EXPECT_EQ(std::signbit(sut), (b & 0x8000) != 0) << bits;
    }
  }
}

TEST(WeightDtype, F16AndBf16RoundTripEveryNonNanPattern) {
  for (std::uint32_t bits = 0; bits < 65536; ++bits) {
    const auto b = static_cast<std::uint16_t>(bits);
    if (!std::isnan(f16_to_f32(b))) {
      EXPECT_EQ(f32_to_f16(f16_to_f32(b)), b) << bits;
    }
    if (!std::isnan(bf16_to_f32(b))) {
      EXPECT_EQ(f32_to_bf16(bf16_to_f32(b)), b) << bits;
    }
  }
}

// The nearest representable value, ties to even, by brute force over neighbouring patterns.
template <class ToF32>
std::uint16_t nearest_even(float v, ToF32 to_f32, std::uint16_t guess) {
  std::uint16_t best = guess;
  double best_err = std::fabs(static_cast<double>(to_f32(guess)) - v);
  for (int d = -2; d <= 2; ++d) {
    const auto c = static_cast<std::uint16_t>(guess + d);
    if (std::isnan(to_f32(c)) || std::signbit(to_f32(c)) != std::signbit(v)) continue;
    const double err = std::fabs(static_cast<double>(to_f32(c)) - v);
    if (err < best_err || (err == best_err && (c & 1) == 0 && (best & 1) == 1)) {
      best = c;
      best_err = err;
    }
  }
  return best;
}

TEST(WeightDtype, RoundingToF16AndBf16IsToNearestEven) {
  const std::uint64_t seed = 99;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> exponent(-26, 14);  // below 2^15: overflow to inf is checked below
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (int i = 0; i < 20000; ++i) {
    const float v = std::ldexp(mantissa(rng), exponent(rng)) * ((i & 1) ? -1.0f : 1.0f);
    const auto f16 = f32_to_f16(v);
    const auto bf16 = f32_to_bf16(v);
    EXPECT_EQ(f16, nearest_even(v, f16_to_f32, f16)) << "v=" << v << " seed=" << seed;
    EXPECT_EQ(bf16, nearest_even(v, bf16_to_f32, bf16)) << "v=" << v << " seed=" << seed;
  }
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // halfway past the largest finite: ties to even = inf
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(WeightDtype, SizesNamesAndValidity) {
  EXPECT_EQ(dtype_size(WeightDtype::k_f32), 4u);
  EXPECT_EQ(dtype_size(WeightDtype::k_bf16), 2u);
  EXPECT_EQ(dtype_size(WeightDtype::k_f16), 2u);
  EXPECT_EQ(dtype_name(WeightDtype::k_bf16), "bf16");
  EXPECT_FALSE(is_valid_dtype(0));
  EXPECT_TRUE(is_valid_dtype(3));
  EXPECT_FALSE(is_valid_dtype(4));
}

}  // namespace
}  // namespace slimcache::agent::exec
