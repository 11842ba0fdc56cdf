#include "solver/algorithms.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>

#include "solver/evaluator.hpp"
#include "solver/local_swaps.hpp"
#include "solver/synthetic.hpp"
#include "tests/solver/feasibility.hpp"
#include "tests/solver/local_moves.hpp"
#include "tests/solver/tiny_instances.hpp"

namespace slimcache::solver {
namespace {

// A synthetic instance of a model preset with 2 clients (the generator's defaults otherwise).
std::optional<Problem> preset_problem(std::string_view model, std::size_t nodes, double budget_fraction,
                                      std::size_t samples_per_layer, std::uint64_t seed = 1) {
  GeneratorOptions g;
  g.nodes = nodes;
  g.clients = 2;
  g.budget_fraction = budget_fraction;
  g.samples_per_layer = samples_per_layer;
  g.seed = seed;
  auto in = generate_instance(*find_model_preset(model), g);
  if (!in) return std::nullopt;
  auto problem = build_problem(*in);
  if (!problem) return std::nullopt;
  return std::move(*problem);
}

// Golden 1: one node (remote: 1 ms rtt + 2 ms transfer + 3 ms exec = 6 ms), fallback 50 ms,
// K = 2, sets {0,1}: 0.5, {1,2}: 0.3, {0,2}: 0.2, room for two experts.
// Optimum: cache {0,1}: T = 0.5 * 0.006 + 0.5 * 0.05 = 0.028.
Instance golden_pair() {
  Instance in;
  in.top_k = 2;
  in.expert_bytes = {{10, 10, 10}};
  in.hidden_state_bytes = 1000.0;
  in.nodes = {Node{"n", 20, {0.003}}};
  in.clients = {Client{"c", 1.0, std::nullopt, {0.05}}};
  in.links = {Link{0.001, 1e6}};
  in.stats = {LayerStats{{}, {0, 1, 1, 2, 0, 2}, {0.5, 0.3, 0.2}}};
  return in;
}

// Golden 2: K = 1, two nodes, one client on node 0 (local exec 2 ms), node 1 remote
// (rtt 4 ms + 0 transfer + exec 1 ms = 5 ms), fallback 30 ms, one slot per node,
// marginals 0.6 / 0.3 / 0.1. Optimum: expert 0 local, expert 1 on node 1:
// T = 0.6 * 0.002 + 0.3 * 0.005 + 0.1 * 0.03 = 0.0057.
Instance golden_two_nodes() {
  Instance in;
  in.top_k = 1;
  in.expert_bytes = {{5, 5, 5}};
  in.hidden_state_bytes = 0.0;
  in.nodes = {Node{"a", 5, {0.002}}, Node{"b", 7, {0.001}}};
  in.clients = {Client{"c", 1.0, 0, {0.03}}};
  in.links = {Link{0.0, 1e9}, Link{0.004, 1e9}};
  in.stats = {LayerStats{{}, {0, 1, 2}, {0.6, 0.3, 0.1}}};
  return in;
}

TEST(Golden, CoActivatedPairIsCachedTogetherBySgdAndBruteForce) {
  auto problem = build_problem(golden_pair());
  ASSERT_TRUE(problem.has_value());
  for (Algorithm a : {Algorithm::sgd, Algorithm::sgd_fast, Algorithm::brute_force}) {
    auto sut = solve(*problem, a);
    ASSERT_TRUE(sut.has_value());
    EXPECT_NEAR(sut->latency_s, 0.028, 1e-12) << algorithm_name(a);
    EXPECT_TRUE(sut->placement.has(0, 0) && sut->placement.has(0, 1)) << algorithm_name(a);
  }
}

TEST(Golden, TwoNodeAssignmentIsSolvedExactlyByTheFlow) {
  auto problem = build_problem(golden_two_nodes());
  ASSERT_TRUE(problem.has_value());
  for (Algorithm a : {Algorithm::greedy, Algorithm::sgd, Algorithm::sgd_fast, Algorithm::brute_force}) {
    auto sut = solve(*problem, a);
    ASSERT_TRUE(sut.has_value());
    EXPECT_NEAR(sut->latency_s, 0.0057, 1e-12) << algorithm_name(a);
  }
  auto greedy = solve(*problem, Algorithm::greedy);
  EXPECT_EQ(greedy->status, SolveStatus::optimal);
  EXPECT_NE(greedy->note.find("min-cost flow"), std::string::npos);
}

TEST(Algorithms, BudgetTooSmallForAnythingGivesTheFallbackLatency) {
  Instance in = golden_pair();
  in.nodes[0].budget_bytes = 9;
  auto problem = build_problem(in);
  ASSERT_TRUE(problem.has_value());
  for (Algorithm a : all_algorithms()) {
    auto sut = solve(*problem, a);
    ASSERT_TRUE(sut.has_value()) << algorithm_name(a);
    EXPECT_EQ(sut->placement.count(), 0u) << algorithm_name(a);
    EXPECT_NEAR(sut->latency_s, 0.05, 1e-15) << algorithm_name(a);
  }
}

TEST(Algorithms, BruteForceRefusesPolitelyAboveItsLimit) {
  GeneratorOptions g;
  g.samples_per_layer = 4;
  auto in = generate_instance(*find_model_preset("olmoe-1b-7b"), g);
  ASSERT_TRUE(in.has_value());
  auto problem = build_problem(*in);
  ASSERT_TRUE(problem.has_value());
  auto sut = solve(*problem, Algorithm::brute_force);
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().message.find("brute-force"), std::string::npos);
}

TEST(Algorithms, SgdWarmStartedAfterABudgetGrowsNeverEndsBelowItsStart) {
  for (std::uint64_t seed = 0; seed < 4; ++seed) {
    GeneratorOptions g;
    g.nodes = 3;
    g.clients = 2;
    g.budget_fraction = 0.1;
    g.seed = seed;
    g.samples_per_layer = 16;
    auto small = generate_instance(*find_model_preset("mixtral-8x7b"), g);
    ASSERT_TRUE(small.has_value());
    auto p_small = build_problem(*small);
    auto old = solve(*p_small, Algorithm::sgd_fast);
    ASSERT_TRUE(old.has_value());
    Instance grown = *small;
    for (auto& n : grown.nodes) n.budget_bytes *= 3;
    auto p_grown = build_problem(grown);
    for (Algorithm a : {Algorithm::sgd, Algorithm::sgd_fast}) {
      SolveOptions o;
      o.warm_start = &old->placement;
      auto sut = solve(*p_grown, a, o);
      ASSERT_TRUE(sut.has_value());
      EXPECT_GE(sut->reduction_s, old->reduction_s - 1e-15) << "seed " << seed << " " << algorithm_name(a);
      EXPECT_EQ(testing::infeasibility(grown, sut->placement), "");
    }
  }
}

TEST(Algorithms, HugeMigrationCostKeepsTheCurrentPlacement) {
  auto problem = preset_problem("olmoe-1b-7b", 4, 0.3, 32);
  auto current = solve(*problem, Algorithm::popularity);
  SolveOptions o;
  o.warm_start = &current->placement;
  o.migration = MigrationCost{&current->placement, 1.0};  // one second per byte
  auto sut = solve(*problem, Algorithm::sgd_fast, o);
  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->migration_bytes, 0.0);
  EXPECT_GE(sut->reduction_s, current->reduction_s - 1e-15);
  o.migration.seconds_per_byte = 0.0;
  auto free_moves = solve(*problem, Algorithm::sgd_fast, o);
  EXPECT_GT(free_moves->migration_bytes, 0.0);
  EXPECT_GT(free_moves->reduction_s, current->reduction_s);
}

TEST(Algorithms, SingleNodeStepWithOthersFixedNeverLosesToItsCurrentContent) {
  const Instance in = testing::tiny_instance(5, {2, testing::Sizes::uniform, 2});
  auto problem = build_problem(in);
  auto start = solve(*problem, Algorithm::random);
  Evaluator ev(*problem);
  ev.reset(start->placement);
  for (std::size_t n = 0; n < problem->num_nodes; ++n) {
    const double with_current = ev.reduction();
    const SingleNodeResult sut = solve_single_node(ev, n, {});
    Evaluator check(*problem);
    Placement x = start->placement;
    for (std::size_t g = 0; g < problem->num_experts; ++g) x.set(n, g, false);
    for (auto g : sut.experts) x.set(n, g, true);
    check.reset(x);
    EXPECT_TRUE(is_feasible(*problem, x));
    EXPECT_GE(check.reduction(), with_current - 1e-12) << "node " << n;
  }
}

TEST(Algorithms, SgdFastStopsAfterAPassThatGainsLessThanItsThreshold) {
  auto problem = preset_problem("olmoe-1b-7b", 4, 0.25, 24);
  SolveOptions one_pass;
  one_pass.fast_min_relative_gain = 1.0;  // the first pass gains J itself: never more than 1.0 * J
  SolveOptions until_stable;
  until_stable.fast_min_relative_gain = 0.0;

  auto sut = solve(*problem, Algorithm::sgd_fast, one_pass);
  auto reference = solve(*problem, Algorithm::sgd_fast, until_stable);

  ASSERT_TRUE(sut.has_value());
  ASSERT_TRUE(reference.has_value());
  EXPECT_EQ(sut->passes, 1u) << sut->note;
  EXPECT_GE(reference->passes, sut->passes);
  EXPECT_GE(reference->reduction_s, sut->reduction_s - 1e-15);
}

TEST(Algorithms, SgdCountsItsNodeStepsAndTimesTheirCombinations) {
  auto problem = preset_problem("olmoe-1b-7b", 4, 0.25, 24);
  ASSERT_TRUE(problem.has_value());

  for (Algorithm a : {Algorithm::sgd, Algorithm::sgd_fast}) {
    auto sut = solve(*problem, a);
    ASSERT_TRUE(sut.has_value());
    // Every pass of the winning ascent steps each node once; other ascents add theirs.
    EXPECT_GE(sut->node_steps, sut->passes * problem->num_nodes) << algorithm_name(a);
    EXPECT_GT(sut->combine_seconds, 0.0) << algorithm_name(a);
  }
  auto baseline = solve(*problem, Algorithm::popularity);
  ASSERT_TRUE(baseline.has_value());
  EXPECT_EQ(baseline->node_steps, 0u);
  EXPECT_EQ(baseline->combine_seconds, 0.0);
}

// OLMoE shape, 16 nodes at F = 0.1: about 6 slots per node, K = 8. No node can complete a
// sampled set alone, so from nothing no single node's step gains anything (and the
// baselines, which do not coordinate the nodes, complete no set either); before the
// cooperative start every algorithm returned "nothing cached" here.
TEST(Algorithms, NodesTooSmallForASetCompleteSetsTogether) {
  GeneratorOptions g;
  g.nodes = 16;
  g.clients = 2;
  g.budget_fraction = 0.1;
  g.samples_per_layer = 32;
  auto in = generate_instance(*find_model_preset("olmoe-1b-7b"), g);
  ASSERT_TRUE(in.has_value());
  auto problem = build_problem(*in);
  ASSERT_TRUE(problem.has_value());
  for (auto& n : in->nodes) ASSERT_LT(n.budget_bytes, 8 * in->expert_bytes[0][0]);
  for (Algorithm a : {Algorithm::sgd, Algorithm::sgd_fast}) {
    auto sut = solve(*problem, a);
    ASSERT_TRUE(sut.has_value());
    EXPECT_GT(sut->reduction_s, 0.0) << algorithm_name(a) << ": " << sut->note;
    EXPECT_EQ(testing::infeasibility(*in, sut->placement), "") << algorithm_name(a);
  }
}

// Large instances (N * G > 256) end with node-local swaps. Checked here without the
// algorithm's pruning: every fill and every swap of one held expert for another, on every
// node, valued exactly with a fresh evaluator; none may still improve the result.
TEST(Algorithms, SgdEndsWhereNoSingleSwapOrFillPays) {
  // Seed 4: the ascent alone ends 1.4% lower, where swapping pays.
  auto problem = preset_problem("olmoe-1b-7b", 4, 0.1, 16, 4);
  ASSERT_TRUE(problem.has_value());
  const Problem& p = *problem;
  ASSERT_GT(p.num_nodes * p.num_experts, 256u);
  for (Algorithm a : {Algorithm::sgd, Algorithm::sgd_fast}) {
    auto sut = solve(p, a);
    ASSERT_TRUE(sut.has_value());
    std::size_t checked = 0;
    for (std::size_t n = 0; n < p.num_nodes; ++n) {
      const auto moves = testing::paying_local_moves(p, sut->placement, n);
      EXPECT_TRUE(moves.paying.empty()) << algorithm_name(a) << ": node " << n << " " << testing::first_moves(moves);
      checked += moves.checked;
    }
    EXPECT_GT(checked, 1000u);
  }
}

// LocalSwaps::improve(n): right after one call no fill and no swap on node n may still pay
// (checked without pruning), and the reduction never falls. Starts: the baselines'
// placements (improve() on each node in turn, one LocalSwaps object, so later calls reuse
// the values the earlier moves left), and node n's single-node step with the others fixed
// (as the daemon's node step calls it).
TEST(Algorithms, LocalSwapsLeaveNoPayingSwapOnTheNode) {
  auto problem = preset_problem("olmoe-1b-7b", 4, 0.1, 16, 4);
  ASSERT_TRUE(problem.has_value());
  const Problem& p = *problem;
  std::size_t moves = 0;
  auto improve_and_check = [&](Evaluator& ev, LocalSwaps& swaps, std::size_t n, const std::string& label) {
    const double before = ev.reduction();
    moves += swaps.improve(n);
    EXPECT_GE(ev.reduction(), before - 1e-12) << label;
    ASSERT_LE(ev.placement().bytes_on(p, n), p.budget[n]) << label;
    const auto left = testing::paying_local_moves(p, ev.placement(), n);
    EXPECT_TRUE(left.paying.empty()) << label << " " << testing::first_moves(left);
  };
  for (const Algorithm start : {Algorithm::popularity, Algorithm::popularity_distinct, Algorithm::layer_uniform}) {
    auto placed = solve(p, start);
    ASSERT_TRUE(placed.has_value());
    Evaluator ev(p, placed->placement);
    LocalSwaps swaps(ev, MigrationCost{});
    for (std::size_t n = 0; n < p.num_nodes; ++n)
      improve_and_check(ev, swaps, n, std::string(algorithm_name(start)) + " node " + std::to_string(n));
    for (std::size_t n = 0; n < p.num_nodes; ++n) {
      Placement others = placed->placement;
      for (std::size_t e = 0; e < p.num_experts; ++e) others.set(n, e, false);
      Evaluator step_ev(p, others);
      const SingleNodeResult step = solve_single_node(step_ev, n);
      for (const auto e : step.experts) step_ev.add(n, e);
      LocalSwaps step_swaps(step_ev, MigrationCost{});
      improve_and_check(step_ev, step_swaps, n, std::string(algorithm_name(start)) + " step of node " + std::to_string(n));
    }
  }
  EXPECT_GT(moves, 0u);
}

TEST(Algorithms, SingleNodeStepFastIsWithinEpsilonOfExactOnTheSameProfiles) {
  for (std::uint64_t seed = 1; seed <= 2; ++seed) {
    auto problem = preset_problem("deepseek-v2-lite", 3, 0.5, 24, seed);
    auto start = solve(*problem, Algorithm::popularity_distinct);
    Evaluator ev(*problem);
    ev.reset(start->placement);
    for (std::size_t n = 0; n < problem->num_nodes; ++n) {
      SingleNodeOptions exact;
      exact.combine = Combine::exact;
      SingleNodeOptions fast;
      fast.combine = Combine::fast;
      fast.epsilon = 0.01;

      const SingleNodeResult reference = solve_single_node(ev, n, exact);
      const SingleNodeResult sut = solve_single_node(ev, n, fast);

      EXPECT_GE(sut.gain, 0.99 * reference.gain - 1e-15) << "seed " << seed << " node " << n;
      EXPECT_LE(sut.gain, reference.gain + 1e-12) << "seed " << seed << " node " << n;
      Placement x = start->placement;
      for (std::size_t e = 0; e < problem->num_experts; ++e) x.set(n, e, false);
      for (auto e : sut.experts) x.set(n, e, true);
      EXPECT_TRUE(is_feasible(*problem, x)) << "seed " << seed << " node " << n;
    }
  }
}

// StepKernels::fast peels with block minima (BlockMin) and values chains with counted
// maxima; both must give the plain scans' chains and profiles bit for bit, whichever
// combination runs (qwen3-30b-a3b shape: 128 experts per layer, top-8, so the peeling spans
// 8 blocks). With eps = 0 the fast combination then finds the exact DP's gain.
TEST(SingleNode, FastKernelsBuildTheSameChainsAndProfilesAsThePlainScans) {
  for (std::uint64_t seed = 1; seed <= 2; ++seed) {
    auto problem = preset_problem("qwen3-30b-a3b", 4, seed == 1 ? 0.25 : 1.0, 32, seed);
    auto start = solve(*problem, Algorithm::popularity_distinct);
    Evaluator ev(*problem, start->placement);
    const std::size_t L = problem->num_layers;
    for (std::size_t n = 0; n < problem->num_nodes; ++n) {
      SingleNodeOptions plain;
      plain.combine = Combine::exact;
      plain.kernels = StepKernels::plain;
      SingleNodeOptions fast_exact = plain;
      fast_exact.kernels = StepKernels::fast;
      SingleNodeOptions fast;
      fast.combine = Combine::fast;
      fast.epsilon = 0.0;
      SingleNodeCache reference_cache, exact_cache, cache;

      const SingleNodeResult reference = solve_single_node(ev, n, plain, &reference_cache);
      const SingleNodeResult exact_sut = solve_single_node(ev, n, fast_exact, &exact_cache);
      const SingleNodeResult sut = solve_single_node(ev, n, fast, &cache);

      for (std::size_t l = 0; l < L; ++l) {
        const auto& want = reference_cache.layers[n * L + l];
        for (const auto* got : {&exact_cache.layers[n * L + l], &cache.layers[n * L + l]}) {
          EXPECT_EQ(got->chains, want.chains) << "seed " << seed << " node " << n << " layer " << l;
          EXPECT_EQ(got->profile, want.profile) << "seed " << seed << " node " << n << " layer " << l;
        }
      }
      EXPECT_EQ(exact_sut.experts, reference.experts) << "seed " << seed << " node " << n;
      EXPECT_NEAR(sut.gain, reference.gain, 1e-12 * std::max(reference.gain, 1e-300)) << "seed " << seed << " node " << n;
    }
  }
}

TEST(Generator, EveryPresetGivesAValidDeterministicInstance) {
  for (const auto& shape : model_presets()) {
    GeneratorOptions g;
    g.nodes = 3;
    g.clients = 2;
    g.samples_per_layer = 8;
    auto a = generate_instance(shape, g);
    auto b = generate_instance(shape, g);
    ASSERT_TRUE(a.has_value()) << shape.name;
    EXPECT_TRUE(build_problem(*a).has_value()) << shape.name;
    EXPECT_EQ(a->stats[5].sets, b->stats[5].sets) << shape.name;
  }
}

TEST(Validate, TopKLargerThanTheExpertsOfALayerIsRejected) {
  Instance in = golden_pair();
  in.top_k = 4;
  auto sut = build_problem(in);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().key, "model.experts");
}

TEST(Validate, ExpertIdOutsideTheLayerIsRejectedWithItsKey) {
  Instance in = golden_pair();
  in.stats[0].sets[3] = 7;
  auto sut = build_problem(in);
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().key.find("stats[client=0,layer=0].sets[1]"), std::string::npos) << sut.error().to_string();
}

}  // namespace
}  // namespace slimcache::solver
