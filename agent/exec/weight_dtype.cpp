#include "agent/exec/weight_dtype.hpp"

#include <bit>
#include <cstring>

namespace slimcache::agent::exec {

std::size_t dtype_size(WeightDtype dtype) {
  switch (dtype) {
    case WeightDtype::k_f32: return 4;
    case WeightDtype::k_bf16: return 2;
    case WeightDtype::k_f16: return 2;
  }
  return 0;
}

std::string_view dtype_name(WeightDtype dtype) {
  switch (dtype) {
    case WeightDtype::k_f32: return "f32";
    case WeightDtype::k_bf16: return "bf16";
    case WeightDtype::k_f16: return "f16";
  }
  return "?";
}

bool is_valid_dtype(std::uint8_t raw) { return raw >= 1 && raw <= 3; }

float bf16_to_f32(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  std::uint32_t out = 0;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000u | (mantissa << 13);  // inf or NaN (payload kept)
  } else if (exponent != 0) {
    out = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {
    // Subnormal: normalise the mantissa.
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {  // at most 10 iterations
      mantissa <<= 1;
      --exponent;
    }
    out = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  } else {
    out = sign;  // signed zero
  }
  return std::bit_cast<float>(out);
}

std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

std::uint16_t f32_to_f16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: value = abs_float / 2^-24 rounded to nearest even.
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal
    const std::uint32_t exponent = abs >> 23;
    const std::uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;  // 14..24
    const std::uint32_t half = 1u << (shift - 1);
    std::uint32_t result = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    if (rest > half || (rest == half && (result & 1u))) ++result;
    return static_cast<std::uint16_t>(sign | result);
  }
  // Normal: rebias the exponent and round the mantissa to 10 bits.
  std::uint32_t rebiased = abs - (112u << 23);
  const std::uint32_t rounding = 0xfffu + ((rebiased >> 13) & 1u);
  rebiased += rounding;
  return static_cast<std::uint16_t>(sign | (rebiased >> 13));
}

}  // namespace slimcache::agent::exec
