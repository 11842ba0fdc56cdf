// Every algorithm against brute force on 504 seeded tiny instances.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "solver/algorithms.hpp"
#include "solver/evaluator.hpp"
#include "tests/solver/feasibility.hpp"
#include "tests/solver/tiny_instances.hpp"

namespace slimcache::solver {
namespace {

using testing::Sizes;
using testing::TinySpec;

constexpr std::size_t k_seeds_per_kind = 42;  // x 12 kinds = 504 instances

TEST(CrossCheck, EveryAlgorithmIsFeasibleAndNoneBeatsBruteForceAndSgdIsNearOptimal) {
  double sgd_ratio_sum = 0.0, fast_ratio_sum = 0.0;
  double sgd_worst = 1.0;
  std::size_t instances = 0, greedy_exact = 0;
  for (std::size_t k : {1u, 2u, 4u})
    for (Sizes sizes : {Sizes::uniform, Sizes::mixed})
      for (std::size_t clients : {1u, 2u})
        for (std::uint64_t seed = 0; seed < k_seeds_per_kind; ++seed) {
          const TinySpec spec{k, sizes, clients};
          const Instance in = testing::tiny_instance(seed, spec);
          auto problem = build_problem(in);
          ASSERT_TRUE(problem.has_value()) << "seed " << seed << ": " << problem.error().to_string();
          const std::string where = "seed " + std::to_string(seed) + " K=" + std::to_string(k) +
                                    (sizes == Sizes::mixed ? " mixed" : " uniform") + " clients=" + std::to_string(clients);
          auto opt = solve(*problem, Algorithm::brute_force);
          ASSERT_TRUE(opt.has_value()) << where << ": " << opt.error().message;
          ASSERT_EQ(testing::infeasibility(in, opt->placement), "") << where;
          const double best = opt->reduction_s;
          ++instances;
          for (Algorithm a : all_algorithms()) {
            SolveOptions o;
            o.seed = seed;
            auto sut = solve(*problem, a, o);
            ASSERT_TRUE(sut.has_value()) << where << " " << algorithm_name(a);
            EXPECT_EQ(testing::infeasibility(in, sut->placement), "") << where << " " << algorithm_name(a);
            EXPECT_NEAR(sut->latency_s, naive_latency(*problem, sut->placement), 1e-12) << where;
            EXPECT_LE(sut->reduction_s, best + 1e-12) << where << " " << algorithm_name(a);
            const double ratio = best > 1e-15 ? sut->reduction_s / best : 1.0;
            if (a == Algorithm::sgd) {
              sgd_ratio_sum += ratio;
              sgd_worst = std::min(sgd_worst, ratio);
              EXPECT_GE(ratio, 0.95) << where << ": sgd reached " << ratio << " of the optimum";
            }
            if (a == Algorithm::sgd_fast) {
              fast_ratio_sum += ratio;
              EXPECT_GE(ratio, 0.95) << where << ": sgd-fast reached " << ratio << " of the optimum";
            }
            if (a == Algorithm::greedy && sut->status == SolveStatus::optimal) {
              ++greedy_exact;
              EXPECT_NEAR(sut->reduction_s, best, 1e-12) << where << ": exact min-cost flow is not optimal";
            }
          }
        }
  const double sgd_mean = sgd_ratio_sum / static_cast<double>(instances);
  const double fast_mean = fast_ratio_sum / static_cast<double>(instances);
  std::cout << "[cross-check] " << instances << " instances; sgd mean " << sgd_mean << " worst " << sgd_worst
            << "; sgd-fast mean " << fast_mean << "; greedy exact (flow) on " << greedy_exact << "\n";
  EXPECT_GE(sgd_mean, 0.99);
  EXPECT_GE(fast_mean, 0.99);
  EXPECT_GT(greedy_exact, 0u);
}

}  // namespace
}  // namespace slimcache::solver
