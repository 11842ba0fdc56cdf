#pragma once
// Seeded random experts for tests and benchmarks: weights uniform in ±1/sqrt(cols) (with an
// occasional tiny value so fp16 subnormals are exercised), rounded to the dtype, encoded
// into a payload and decoded into a view that points into it.
#include <cstdint>
#include <vector>

#include "agent/exec/aligned_bytes.hpp"
#include "agent/exec/expert_payload.hpp"

namespace slimcache::agent::exec::testing {

struct GeneratedExpert {
  AlignedBytes payload;
  ExpertView view;
};

// Aborts (via the test framework's expectations in callers) only on encoder bugs: returns a
// view with null matrices if encoding failed.
GeneratedExpert generate_expert(ExpertKind kind, WeightDtype dtype, std::uint32_t hidden, std::uint32_t ffn,
                                std::uint64_t seed);

// `count` floats uniform in [-1, 1).
std::vector<float> generate_activations(std::size_t count, std::uint64_t seed);

}  // namespace slimcache::agent::exec::testing
