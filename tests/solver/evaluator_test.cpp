#include "solver/evaluator.hpp"

#include <gtest/gtest.h>

#include "solver/random.hpp"
#include "tests/solver/tiny_instances.hpp"

namespace slimcache::solver {
namespace {

TEST(Evaluator, IncrementalAddRemoveAgreesWithNaiveRecomputation) {
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    const Instance in = testing::tiny_instance(seed, {1 + seed % 4, testing::Sizes::mixed, 1 + seed % 2});
    auto problem = build_problem(in);
    ASSERT_TRUE(problem.has_value()) << "seed " << seed;
    Evaluator sut(*problem);
    SplitMix64 rng(seed);
    for (int step = 0; step < 60; ++step) {
      const std::size_t n = rng.below(problem->num_nodes), g = rng.below(problem->num_experts);
      const bool had = sut.placement().has(n, g);
      const double predicted = had ? -sut.loss_if_removed(n, g) : sut.gain_if_added(n, g);
      const double before = sut.latency();
      if (had) sut.remove(n, g);
      else sut.add(n, g);
      ASSERT_NEAR(sut.latency(), naive_latency(*problem, sut.placement()), 1e-12) << "seed " << seed << " step " << step;
      ASSERT_NEAR(before - sut.latency(), predicted, 1e-12) << "seed " << seed << " step " << step;
    }
  }
}

TEST(Evaluator, StartingFromAPlacementGivesTheSameStateAsResettingToIt) {
  for (std::uint64_t seed = 0; seed < 24; ++seed) {
    const Instance in = testing::tiny_instance(seed, {1 + seed % 4, testing::Sizes::mixed, 1 + seed % 2});
    auto problem = build_problem(in);
    ASSERT_TRUE(problem.has_value()) << "seed " << seed;
    Placement x(problem->num_nodes, problem->num_experts);
    SplitMix64 rng(seed);
    for (std::size_t i = 0; i < x.bits.size(); ++i) x.bits[i] = rng.below(2) == 0 ? 1 : 0;
    Evaluator reference(*problem);
    reference.reset(x);

    const Evaluator sut(*problem, x);

    EXPECT_EQ(sut.empty_latency(), reference.empty_latency()) << "seed " << seed;  // bit-identical
    EXPECT_EQ(sut.latency(), reference.latency()) << "seed " << seed;
    EXPECT_EQ(sut.placement(), x);
  }
}

TEST(Evaluator, LayerLatencyIsTheSlowestExpertOfTheSet) {
  // One client on no node, one remote node (rtt 1 ms, 2*h/b = 2 ms, exec 3 ms), fallback 50 ms.
  Instance in;
  in.top_k = 2;
  in.expert_bytes = {{1, 1, 1}};
  in.hidden_state_bytes = 1000.0;
  in.nodes = {Node{"n", 10, {0.003}}};
  in.clients = {Client{"c", 1.0, std::nullopt, {0.05}}};
  in.links = {Link{0.001, 1e6}};
  in.stats = {LayerStats{{}, {0, 1, 1, 2}, {3.0, 1.0}}};
  auto problem = build_problem(in);
  ASSERT_TRUE(problem.has_value());
  Evaluator sut(*problem);
  EXPECT_NEAR(sut.latency(), 0.05, 1e-15);
  sut.add(0, 0);
  EXPECT_NEAR(sut.latency(), 0.05, 1e-15);  // {0,1} still waits for expert 1
  sut.add(0, 1);
  EXPECT_NEAR(sut.latency(), 0.75 * 0.006 + 0.25 * 0.05, 1e-15);
}

TEST(Evaluator, FeasibilityCheckRejectsAnOverfullNode) {
  const Instance in = testing::tiny_instance(3, {1, testing::Sizes::uniform, 1});
  auto problem = build_problem(in);
  ASSERT_TRUE(problem.has_value());
  Placement x(problem->num_nodes, problem->num_experts);
  for (std::size_t g = 0; g < problem->num_experts; ++g) x.set(0, g, true);
  EXPECT_EQ(is_feasible(*problem, x), x.bytes_on(*problem, 0) <= problem->budget[0]);
  EXPECT_TRUE(is_feasible(*problem, Placement(problem->num_nodes, problem->num_experts)));
}

}  // namespace
}  // namespace slimcache::solver
