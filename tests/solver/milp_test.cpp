#include "tests/solver/milp_reference.hpp"

#include <gtest/gtest.h>

#include "solver/algorithms.hpp"
#include "solver/evaluator.hpp"
#include "solver/synthetic.hpp"
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


// Medium instances (4 layers x 8 experts, top-2; the report's medium-8x2 points) where GLPK
// proves the optimum in well under a second. The node-wise best response alone ended 0.28% to
// 0.93% below it on three of these; the small-instance swaps and exchanges reach it.
TEST(MilpReference, SgdReachesTheProvenOptimumOnMediumInstances) {
  const solver::ModelShape shape{"medium-8x2", "8 experts, top-2, 4 layers", 4, 8, 2, 1024, 2048, 3};
  std::size_t proven = 0;
  for (std::size_t nodes : {2u, 4u})
    for (double fraction : {0.25, 0.5}) {
      solver::GeneratorOptions g;
      g.nodes = nodes;
      g.clients = 2;
      g.budget_fraction = fraction;
      g.samples_per_layer = 32;
      g.seed = 1;
      const auto in = solver::generate_instance(shape, g);
      ASSERT_TRUE(in.has_value());
      auto problem = solver::build_problem(*in);
      ASSERT_TRUE(problem.has_value());
      MilpOptions options;
      options.time_limit_s = 60.0;
      auto milp = solve_milp(*problem, options);
      ASSERT_TRUE(milp.has_value()) << milp.error().message;
      if (!milp->optimal) continue;  // not proven within the limit (a slow machine): nothing to compare
      ++proven;
      const double optimum = solver::Evaluator(*problem, milp->placement).reduction();
      for (auto algorithm : {solver::Algorithm::sgd, solver::Algorithm::sgd_fast}) {
        auto r = solver::solve(*problem, algorithm);
        ASSERT_TRUE(r.has_value());
        EXPECT_TRUE(solver::is_feasible(*problem, r->placement));
        EXPECT_GE(r->reduction_s, 0.999 * optimum)
            << solver::algorithm_name(algorithm) << ", " << nodes << " nodes, fraction " << fraction << ": "
            << r->note;
      }
    }
  EXPECT_GT(proven, 0U) << "GLPK proved no optimum";
}

}  // namespace
}  // namespace slimcache::testing
