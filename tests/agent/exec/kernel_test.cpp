// The expert kernel against the double-precision reference, for every instruction-set
// variant this CPU has, every dtype, both expert kinds, odd shapes and batches.
#include "agent/exec/expert_kernel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "tests/agent/exec/generated_expert.hpp"
#include "tests/agent/exec/reference_kernel.hpp"

namespace slimcache::agent::exec {
namespace {

using testing::generate_activations;
using testing::generate_expert;
using testing::reference_expert;

constexpr std::uint64_t k_seed = 20261122;

struct Shape {
  std::uint32_t hidden;
  std::uint32_t ffn;
};

std::string describe(KernelIsa isa, ExpertKind kind, WeightDtype dtype, Shape s, std::size_t tokens,
                     std::uint64_t seed) {
  return std::string(isa_name(isa)) + " " + (kind == ExpertKind::k_swiglu ? "swiglu" : "two-matrix") + " " +
         std::string(dtype_name(dtype)) + " hidden=" + std::to_string(s.hidden) + " ffn=" + std::to_string(s.ffn) +
         " tokens=" + std::to_string(tokens) + " seed=" + std::to_string(seed);
}

// Number of elements outside the bound; reports the first few.
int count_outside_bound(const std::vector<float>& got, const testing::ReferenceOutput& ref) {
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref.y[i]);
    if (!(err <= ref.bound[i])) {
      if (++bad <= 3)
        ADD_FAILURE() << "element " << i << ": kernel " << got[i] << " reference " << ref.y[i] << " error " << err
                      << " bound " << ref.bound[i];
    }
  }
  return bad;
}

TEST(ExpertKernel, MatchesReferenceWithinBoundForEveryIsaDtypeKindShapeAndBatch) {
  const Shape shapes[] = {{1, 1}, {7, 5}, {16, 32}, {37, 53}, {64, 48}, {131, 67}, {200, 96}};
  const std::size_t batches[] = {1, 3, 8, 13, 16};
  std::uint64_t seed = k_seed;
  for (KernelIsa isa : available_isas())
    for (ExpertKind kind : {ExpertKind::k_swiglu, ExpertKind::k_two_matrix})
      for (WeightDtype dtype : {WeightDtype::k_f32, WeightDtype::k_bf16, WeightDtype::k_f16})
        for (Shape shape : shapes)
          for (std::size_t tokens : batches) {
            ++seed;
            SCOPED_TRACE(describe(isa, kind, dtype, shape, tokens, seed));
            // Arrange
            auto expert = generate_expert(kind, dtype, shape.hidden, shape.ffn, seed);
            ASSERT_NE(expert.view.gate.data, nullptr);
            const auto x = generate_activations(tokens * shape.hidden, seed);
            std::vector<float> y(tokens * shape.hidden, std::nanf(""));
            const auto ref = reference_expert(expert.view, x, tokens);
            // Act
            const auto sut = run_expert(expert.view, x, tokens, y, KernelOptions{isa, nullptr});
            // Assert
            ASSERT_TRUE(sut.has_value()) << sut.error().message;
            ASSERT_EQ(count_outside_bound(y, ref), 0);
          }
}

TEST(ExpertKernel, MatchesReferenceOnALargerShapeWithBatchesPastOneRegisterBlock) {
  // Activations larger than L1 for the first matrix, and 21 tokens = blocks of 8, 8, 4, 1.
  const Shape shape{520, 300};
  std::uint64_t seed = k_seed + 5000;
  for (KernelIsa isa : available_isas())
    for (WeightDtype dtype : {WeightDtype::k_f32, WeightDtype::k_bf16, WeightDtype::k_f16})
      for (std::size_t tokens : {std::size_t{13}, std::size_t{21}}) {
        ++seed;
        SCOPED_TRACE(describe(isa, ExpertKind::k_swiglu, dtype, shape, tokens, seed));
        auto expert = generate_expert(ExpertKind::k_swiglu, dtype, shape.hidden, shape.ffn, seed);
        const auto x = generate_activations(tokens * shape.hidden, seed);
        std::vector<float> y(tokens * shape.hidden, std::nanf(""));
        const auto ref = reference_expert(expert.view, x, tokens);
        const auto sut = run_expert(expert.view, x, tokens, y, KernelOptions{isa, nullptr});
        ASSERT_TRUE(sut.has_value()) << sut.error().message;
        ASSERT_EQ(count_outside_bound(y, ref), 0);
      }
}

TEST(ExpertKernel, BoundIsTightEnoughToCatchADroppedTerm) {
  // The tolerance must be far below the size of one term of the output sum, or the
  // comparison above could not catch an off-by-one in the loops: check that on the largest
  // tested shape (two-matrix, so h = relu(wi x) is easy to recompute here).
  const Shape shape{200, 96};
  auto expert = generate_expert(ExpertKind::k_two_matrix, WeightDtype::k_f32, shape.hidden, shape.ffn, k_seed);
  const auto x = generate_activations(shape.hidden, k_seed);
  const auto sut = reference_expert(expert.view, x, 1);
  double mean_term = 0;
  for (std::size_t f = 0; f < shape.ffn; ++f) {
    double g = 0;
    for (std::size_t c = 0; c < shape.hidden; ++c) g += testing::weight_at(expert.view, expert.view.gate, f, c) * x[c];
    mean_term += std::fabs(testing::weight_at(expert.view, expert.view.down, 0, f)) * (g > 0 ? g : 0.0);
  }
  mean_term /= shape.ffn;
  EXPECT_LT(sut.bound[0], 0.1 * mean_term) << "seed=" << k_seed;
}

TEST(ExpertKernel, RowSplitOverThreadsGivesBitwiseIdenticalResults) {
  RowThreads threads(3);
  for (KernelIsa isa : available_isas())
    for (WeightDtype dtype : {WeightDtype::k_f32, WeightDtype::k_bf16, WeightDtype::k_f16}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(dtype_name(dtype)) + " seed=" + std::to_string(k_seed));
      auto expert = generate_expert(ExpertKind::k_swiglu, dtype, 300, 211, k_seed);
      const auto x = generate_activations(5 * 300, k_seed);
      std::vector<float> single(5 * 300), split(5 * 300);
      ASSERT_TRUE(run_expert(expert.view, x, 5, single, KernelOptions{isa, nullptr}).has_value());
      const auto sut = run_expert(expert.view, x, 5, split, KernelOptions{isa, &threads});
      ASSERT_TRUE(sut.has_value());
      EXPECT_EQ(std::memcmp(single.data(), split.data(), single.size() * sizeof(float)), 0);
    }
}

TEST(ExpertKernel, RunExpertsGivesEachJobTheSameOutputAsASingleCall) {
  auto a = generate_expert(ExpertKind::k_swiglu, WeightDtype::k_bf16, 48, 40, k_seed);
  auto b = generate_expert(ExpertKind::k_swiglu, WeightDtype::k_bf16, 48, 40, k_seed + 1);
  const auto xa = generate_activations(2 * 48, k_seed);
  const auto xb = generate_activations(5 * 48, k_seed + 1);
  std::vector<float> ya(2 * 48), yb(5 * 48), want_a(2 * 48), want_b(5 * 48);
  ASSERT_TRUE(run_expert(a.view, xa, 2, want_a).has_value());
  ASSERT_TRUE(run_expert(b.view, xb, 5, want_b).has_value());
  const ExpertJob jobs[] = {{a.view, xa, 2, ya}, {b.view, xb, 5, yb}};
  const auto sut = run_experts(jobs);
  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(ya, want_a);
  EXPECT_EQ(yb, want_b);
}

TEST(ExpertKernel, RunExpertsRejectsABadJobAndNamesIt) {
  auto a = generate_expert(ExpertKind::k_swiglu, WeightDtype::k_f32, 16, 8, k_seed);
  const auto x = generate_activations(16, k_seed);
  std::vector<float> y(16), short_y(15);
  const ExpertJob jobs[] = {{a.view, x, 1, y}, {a.view, x, 1, short_y}};
  const auto sut = run_experts(jobs);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ExecErrc::k_invalid_argument);
  EXPECT_NE(sut.error().message.find("job 1"), std::string::npos) << sut.error().message;
}

TEST(ExpertKernel, RejectsWrongSizesZeroTokensAndInconsistentViews) {
  auto e = generate_expert(ExpertKind::k_swiglu, WeightDtype::k_f16, 16, 8, k_seed);
  const auto x = generate_activations(32, k_seed);
  std::vector<float> y(32);
  EXPECT_FALSE(run_expert(e.view, std::span(x).first(31), 2, y).has_value());
  EXPECT_FALSE(run_expert(e.view, x, 2, std::span(y).first(16)).has_value());
  EXPECT_FALSE(run_expert(e.view, std::span(x).first(0), 0, std::span(y).first(0)).has_value());
  ExpertView transposed = e.view;
  transposed.down.rows = 8;
  transposed.down.cols = 16;
  EXPECT_FALSE(run_expert(transposed, x, 2, y).has_value());
  ExpertView missing = e.view;
  missing.up.data = nullptr;
  EXPECT_FALSE(run_expert(missing, x, 2, y).has_value());
  ExpertView misaligned = e.view;
  misaligned.gate.data += 1;
  EXPECT_FALSE(run_expert(misaligned, x, 2, y).has_value());
}

TEST(ExpertKernel, RejectsAnInstructionSetTheCpuLacks) {
  const auto have = available_isas();
  for (KernelIsa isa : {KernelIsa::k_avx2, KernelIsa::k_avx512, KernelIsa::k_neon}) {
    if (std::find(have.begin(), have.end(), isa) != have.end()) continue;
    auto e = generate_expert(ExpertKind::k_swiglu, WeightDtype::k_f32, 8, 8, k_seed);
    const auto x = generate_activations(8, k_seed);
    std::vector<float> y(8);
    const auto sut = run_expert(e.view, x, 1, y, KernelOptions{isa, nullptr});
    ASSERT_FALSE(sut.has_value());
    EXPECT_NE(sut.error().message.find(isa_name(isa)), std::string::npos);
    return;
  }
  GTEST_SKIP() << "this CPU has every variant";  // not reachable: no CPU has both AVX and NEON
}

TEST(ExpertKernel, AutoUsesTheBestAvailableVariant) {
  EXPECT_EQ(best_isa(), available_isas().back());
  EXPECT_EQ(available_isas().front(), KernelIsa::k_scalar);
}

TEST(GateWeightedSum, CombinesExpertOutputsPerTokenWithTheRouterWeights) {
  const std::size_t experts = 3, tokens = 2, hidden = 5;
  const auto outputs = generate_activations(experts * tokens * hidden, k_seed);
  const auto weights = generate_activations(tokens * experts, k_seed + 7);
  std::vector<float> y(tokens * hidden);
  const auto sut = gate_weighted_sum(outputs, experts, tokens, hidden, weights, y);
  ASSERT_TRUE(sut.has_value());
  for (std::size_t t = 0; t < tokens; ++t)
    for (std::size_t i = 0; i < hidden; ++i) {
      double want = 0, scale = 0;
      for (std::size_t e = 0; e < experts; ++e) {
        want += static_cast<double>(weights[t * experts + e]) * outputs[(e * tokens + t) * hidden + i];
        scale += std::fabs(static_cast<double>(weights[t * experts + e]) * outputs[(e * tokens + t) * hidden + i]);
      }
      EXPECT_NEAR(y[t * hidden + i], want, 4 * scale / 16777216.0 + 1e-30) << "t=" << t << " i=" << i;
    }
}

TEST(GateWeightedSum, RejectsMismatchedSizes) {
  std::vector<float> outputs(2 * 3 * 4), weights(3 * 2), y(3 * 4);
  EXPECT_TRUE(gate_weighted_sum(outputs, 2, 3, 4, weights, y).has_value());
  EXPECT_FALSE(gate_weighted_sum(std::span(outputs).first(23), 2, 3, 4, weights, y).has_value());
  EXPECT_FALSE(gate_weighted_sum(outputs, 2, 3, 4, std::span(weights).first(5), y).has_value());
  EXPECT_FALSE(gate_weighted_sum(outputs, 2, 3, 4, weights, std::span(y).first(11)).has_value());
  EXPECT_FALSE(gate_weighted_sum(outputs, 0, 3, 4, weights, y).has_value());
}

TEST(ReferenceKernel, MatchesTheClosedFormOnAOneByOneSwigluExpert) {
  // gate = 0.5, up = -2, down = 0.25 (all exact in f32): y = 0.25 * silu(0.5 x) * (-2 x).
  const float gate = 0.5f, up = -2.0f, down = 0.25f;
  ExpertMatrices in{ExpertKind::k_swiglu, WeightDtype::k_f32, 1, 1, {}};
  in.matrices = {std::as_bytes(std::span(&gate, 1)), std::as_bytes(std::span(&up, 1)), std::as_bytes(std::span(&down, 1))};
  auto payload = encode_expert_payload(in);
  ASSERT_TRUE(payload.has_value());
  auto view = decode_expert_payload(payload->bytes());
  ASSERT_TRUE(view.has_value());
  const float x = 1.5f;
  const auto sut = testing::reference_expert(*view, std::span(&x, 1), 1);
  const double g = 0.5 * 1.5;
  EXPECT_DOUBLE_EQ(sut.y[0], 0.25 * (g / (1 + std::exp(-g))) * (-2.0 * 1.5));
}

}  // namespace
}  // namespace slimcache::agent::exec
