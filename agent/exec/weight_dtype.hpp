#pragma once
// Weight element types of an expert payload and their scalar conversions.
//
// bf16 -> f32 is exact (the top 16 bits of an IEEE binary32). f16 -> f32 is exact for
// every value, including subnormals, infinities and NaN (software, no F16C needed).
// f32 -> bf16 / f16 round to nearest, ties to even (used by encoders and tests).
// All functions are pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace slimcache::agent::exec {

// Values are part of the payload format (append-only).
enum class WeightDtype : std::uint8_t { k_f32 = 1, k_bf16 = 2, k_f16 = 3 };

// Bytes per element: 4, 2 or 2; 0 for a value that is not a WeightDtype.
std::size_t dtype_size(WeightDtype dtype);
// "f32", "bf16", "f16" or "?".
std::string_view dtype_name(WeightDtype dtype);
// True for the three values above (payload decoders check untrusted bytes with it).
bool is_valid_dtype(std::uint8_t raw);

float bf16_to_f32(std::uint16_t bits);
float f16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_bf16(float value);
std::uint16_t f32_to_f16(float value);

}  // namespace slimcache::agent::exec
