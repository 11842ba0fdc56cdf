#include "tests/solver/milp_reference.hpp"

#include <gtest/gtest.h>

#include "solver/algorithms.hpp"
#include "solver/evaluator.hpp"
#include "tests/solver/tiny_instances.hpp"

namespace slimcache::testing {
namespace {

TEST(MilpReference, AgreesWithBruteForceOnTinyInstances) {
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    const auto in = solver::testing::tiny_instance(seed, {1 + seed % 3, solver::testing::Sizes::mixed, 1 + seed % 2});
    auto problem = solver::build_problem(in);
    ASSERT_TRUE(problem.has_value());
    auto brute = solver::solve(*problem, solver::Algorithm::brute_force);
    ASSERT_TRUE(brute.has_value());
    auto sut = solve_milp(*problem);
    ASSERT_TRUE(sut.has_value()) << "seed " << seed << ": " << sut.error().message;
    EXPECT_TRUE(sut->optimal) << "seed " << seed;
    EXPECT_TRUE(solver::is_feasible(*problem, sut->placement)) << "seed " << seed;
    EXPECT_NEAR(solver::naive_latency(*problem, sut->placement), brute->latency_s, 1e-9) << "seed " << seed;
    EXPECT_NEAR(sut->latency_s, brute->latency_s, 1e-9) << "seed " << seed;
  }
}

}  // namespace
}  // namespace slimcache::testing
