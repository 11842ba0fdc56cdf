#include "solver/maxplus.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "solver/random.hpp"

namespace slimcache::solver {
namespace {

std::vector<std::vector<double>> random_profiles(SplitMix64& rng, bool concave) {
  std::vector<std::vector<double>> profiles(1 + rng.below(8));
  for (auto& g : profiles) {
    g.assign(1 + rng.below(12), 0.0);
    double step = 1.0 + 10.0 * rng.uniform();
    for (std::size_t k = 1; k < g.size(); ++k) {
      // concave: shrinking steps; otherwise jumps (set completion) and plateaus
      const double inc = concave ? step : (rng.below(3) == 0 ? 10.0 * rng.uniform() : 0.1 * rng.uniform());
      step *= concave ? 0.5 + 0.5 * rng.uniform() : 1.0;
      g[k] = g[k - 1] + inc;
    }
    make_staircase(g);
  }
  return profiles;
}

double value_of(const std::vector<std::vector<double>>& p, const Combination& c) {
  double v = 0.0;
  for (std::size_t l = 0; l < p.size(); ++l) v += p[l][c.units[l]];
  return v;
}

TEST(MaxPlus, ExactDpMatchesEnumerationOnTwoLayers) {
  SplitMix64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    auto profiles = random_profiles(rng, false);
    profiles.resize(std::min<std::size_t>(profiles.size(), 2));
    const std::size_t cap = rng.below(15);
    double best = 0.0;
    for (std::size_t a = 0; a < profiles[0].size(); ++a)
      for (std::size_t b = 0; b < (profiles.size() > 1 ? profiles[1].size() : 1); ++b)
        if (a + b <= cap) best = std::max(best, profiles[0][a] + (profiles.size() > 1 ? profiles[1][b] : 0.0));
    const auto sut = combine_exact(profiles, cap);
    EXPECT_NEAR(sut.value, best, 1e-9) << "trial " << trial;
  }
}

TEST(MaxPlus, FastIsWithinOneMinusEpsilonOfExactOnNonConcaveProfiles) {
  for (double eps : {0.0, 0.01, 0.1, 0.3}) {
    SplitMix64 rng(42);
    for (int trial = 0; trial < 500; ++trial) {
      const auto profiles = random_profiles(rng, false);
      const std::size_t cap = rng.below(40);
      const auto exact = combine_exact(profiles, cap);
      const auto sut = combine_fast(profiles, cap, eps);
      std::size_t used = 0;
      for (auto u : sut.units) used += u;
      EXPECT_LE(used, cap) << "eps " << eps << " trial " << trial;
      EXPECT_NEAR(sut.value, value_of(profiles, sut), 1e-9);
      EXPECT_GE(sut.value, (1.0 - eps) * exact.value - 1e-9) << "eps " << eps << " trial " << trial << " (seed 42)";
      EXPECT_GE(sut.upper_bound, exact.value - 1e-9) << "the LP bound must bound the optimum";
    }
  }
}

TEST(MaxPlus, FastIsExactWithoutFallbackOnConcaveProfiles) {
  SplitMix64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const auto profiles = random_profiles(rng, true);
    const std::size_t cap = rng.below(40);
    const auto sut = combine_fast(profiles, cap, 0.0);
    EXPECT_NEAR(sut.value, combine_exact(profiles, cap).value, 1e-9) << "trial " << trial << " (seed 7)";
    EXPECT_FALSE(sut.used_exact_dp) << "trial " << trial;
  }
}

// Long profiles shaped like the node step's (set completion: jumps, then plateaus) over many
// layers, where the LP bound is loose and the pruned DP of combine_fast does the work.
std::vector<std::vector<double>> long_profiles(SplitMix64& rng) {
  std::vector<std::vector<double>> profiles(5 + rng.below(40));
  for (auto& g : profiles) {
    g.assign(1 + rng.below(80), 0.0);
    const double scale = 0.5 + rng.uniform();
    for (std::size_t k = 1; k < g.size(); ++k)
      g[k] = g[k - 1] + (rng.below(4) == 0 ? scale * rng.uniform() / std::sqrt(static_cast<double>(k)) : 0.0);
    make_staircase(g);
  }
  return profiles;
}

TEST(MaxPlus, FastWithZeroEpsilonIsExactOnLongNonConcaveProfiles) {
  constexpr std::uint64_t k_seed = 2026;
  SplitMix64 rng(k_seed);
  for (int trial = 0; trial < 60; ++trial) {
    const auto profiles = long_profiles(rng);
    std::size_t total = 0;
    for (const auto& g : profiles) total += g.size() - 1;
    const std::size_t cap = rng.below(total + 1);
    const auto exact = combine_exact(profiles, cap);

    const auto sut = combine_fast(profiles, cap, 0.0);

    std::size_t used = 0;
    for (auto u : sut.units) used += u;
    EXPECT_LE(used, cap) << "trial " << trial << " (seed " << k_seed << ")";
    EXPECT_NEAR(sut.value, value_of(profiles, sut), 1e-9);
    EXPECT_NEAR(sut.value, exact.value, 1e-9 * std::max(1.0, exact.value)) << "trial " << trial << " (seed " << k_seed << ")";
    EXPECT_GE(sut.upper_bound, exact.value - 1e-9) << "trial " << trial;
  }
}

TEST(MaxPlus, FastKeepsItsBoundOnLongNonConcaveProfiles) {
  constexpr std::uint64_t k_seed = 77;
  for (double eps : {0.01, 0.05, 0.2}) {
    SplitMix64 rng(k_seed);
    for (int trial = 0; trial < 40; ++trial) {
      const auto profiles = long_profiles(rng);
      const std::size_t cap = rng.below(200);
      const auto exact = combine_exact(profiles, cap);

      const auto sut = combine_fast(profiles, cap, eps);

      std::size_t used = 0;
      for (auto u : sut.units) used += u;
      EXPECT_LE(used, cap);
      EXPECT_NEAR(sut.value, value_of(profiles, sut), 1e-9);
      EXPECT_GE(sut.value, (1.0 - eps) * exact.value - 1e-9) << "eps " << eps << " trial " << trial << " (seed " << k_seed << ")";
    }
  }
}

}  // namespace
}  // namespace slimcache::solver
