#include "tests/agent/exec/generated_expert.hpp"

#include <cmath>
#include <cstring>

namespace slimcache::agent::exec::testing {
namespace {

// splitmix64: fast enough to fill the benchmark's gigabyte-sized experts.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float symmetric() { return static_cast<float>(static_cast<double>(next() >> 40) / static_cast<double>(1ull << 23) - 1.0); }
};

std::vector<std::byte> random_matrix(WeightDtype dtype, std::size_t rows, std::size_t cols, Rng& rng) {
  const std::size_t n = rows * cols;
  std::vector<std::byte> out(n * dtype_size(dtype));
  const float scale = 1.0f / std::sqrt(static_cast<float>(cols));
  for (std::size_t i = 0; i < n; ++i) {
    float v = rng.symmetric() * scale;
    if ((rng.next() & 15u) == 0) v *= 1e-5f;  // tiny: fp16 subnormal territory
    if (dtype == WeightDtype::k_f32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {
      const std::uint16_t bits = dtype == WeightDtype::k_bf16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(out.data() + 2 * i, &bits, 2);
    }
  }
  return out;
}

}  // namespace

GeneratedExpert generate_expert(ExpertKind kind, WeightDtype dtype, std::uint32_t hidden, std::uint32_t ffn,
                                std::uint64_t seed) {
  Rng rng{seed};
  std::vector<std::vector<std::byte>> mats;
  mats.push_back(random_matrix(dtype, ffn, hidden, rng));
  if (kind == ExpertKind::k_swiglu) mats.push_back(random_matrix(dtype, ffn, hidden, rng));
  mats.push_back(random_matrix(dtype, hidden, ffn, rng));
  ExpertMatrices in{kind, dtype, hidden, ffn, {}};
  for (std::size_t i = 0; i < mats.size(); ++i) in.matrices[i] = mats[i];
  GeneratedExpert out;
  auto encoded = encode_expert_payload(in);
  if (!encoded) return out;
  out.payload = std::move(encoded).value();
  auto view = decode_expert_payload(out.payload.bytes());
  if (view) out.view = *view;
  return out;
}

std::vector<float> generate_activations(std::size_t count, std::uint64_t seed) {
  Rng rng{seed ^ 0x5a5a5a5a5a5a5a5aull};
  std::vector<float> out(count);
  for (auto& v : out) v = rng.symmetric();
  return out;
}

}  // namespace slimcache::agent::exec::testing
