#include "agent/placement/coordinator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "solver/algorithms.hpp"
#include "solver/evaluator.hpp"
#include "solver/model_presets.hpp"
#include "solver/synthetic.hpp"
#include "tests/solver/local_moves.hpp"

namespace slimcache::agent::placement {
namespace {

using namespace std::chrono_literals;

// Statistics of one client: per layer, `sets` top-K sets drawn Zipf-like from a seeded
// permutation of the experts (so layers differ), weight 1 each.
ClientStatsValue make_stats(const ModelShape& shape, std::uint64_t seed, double rate, std::size_t sets = 64) {
  std::mt19937_64 rng(seed);
  ClientStatsValue v;
  v.tokens_per_s = rate;
  for (std::uint32_t l = 0; l < shape.layers; ++l) {
    std::vector<solver::ExpertId> perm(shape.experts);
    for (std::uint32_t e = 0; e < shape.experts; ++e) perm[e] = static_cast<solver::ExpertId>(e);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<double> w(shape.experts);
    for (std::size_t e = 0; e < w.size(); ++e) w[e] = 1.0 / static_cast<double>(e + 1);
    std::discrete_distribution<std::size_t> pick(w.begin(), w.end());
    solver::LayerStats s;
    for (std::size_t i = 0; i < sets; ++i) {
      std::set<solver::ExpertId> chosen;
      while (chosen.size() < shape.top_k) chosen.insert(perm[pick(rng)]);
      s.sets.insert(s.sets.end(), chosen.begin(), chosen.end());
      s.weights.push_back(1.0);
    }
    v.layers.push_back(std::move(s));
  }
  return v;
}

// Several coordinators sharing one perfect gossip view; solves run inline and transfers
// are instant (holdings = placement). Nodes tick in name order every 100 ms.
struct Sim {
  ModelShape shape{4, 8, 2};
  std::uint64_t expert_bytes = 1000;
  std::map<std::string, MemberView> published;
  std::map<std::string, Coordinator> nodes;
  std::set<std::string> mute;  // their solves never finish
  std::vector<std::string> publish_log;
  std::map<std::string, std::vector<std::vector<std::uint32_t>>> history;
  Clock::time_point now{};

  void add(const std::string& name, std::uint64_t budget, CoordinatorOptions options = {}) {
    options.self = name;
    options.min_interval = 2s;
    options.publish_timeout = 1s;
    nodes.emplace(name, Coordinator(options));
    MemberView m;
    m.name = name;
    m.server = budget > 0;
    m.disk_budget = budget;
    published[name] = m;
  }
  void set_stats(const std::string& name, ClientStatsValue v, std::uint64_t hash) {
    published[name].stats = std::move(v);
    published[name].stats_hash = hash;
  }
  ClusterView view() const {
    ClusterView v;
    v.shape = shape;
    v.expert_bytes = expert_bytes;
    v.hidden = 64;
    for (const auto& [name, m] : published) v.members.push_back(m);
    return v;
  }
  void step() {
    for (auto& [name, c] : nodes) {
      auto actions = c.tick(now, view());
      if (actions.publish_epoch) published[name].epoch = actions.publish_epoch;
      if (actions.solve && mute.count(name) == 0) {
        if (auto pv = c.solved(run_node_step(*actions.solve))) {
          published[name].placement = pv;
          published[name].holdings = HoldingsValue{pv->experts, false, 0, 0};
          publish_log.push_back(name);
          history[name].push_back(pv->experts);
        }
      }
    }
    now += 100ms;
  }
  bool settled(std::uint64_t epoch) const {
    for (const auto& [name, c] : nodes) {
      if (mute.count(name) != 0) continue;
      if (c.epoch() < epoch || c.phase() != Phase::k_done) return false;
    }
    return true;
  }
  bool run_until_settled(std::uint64_t epoch, int max_steps = 400) {
    for (int i = 0; i < max_steps; ++i) {
      if (settled(epoch)) return true;
      step();
    }
    return settled(epoch);
  }
  solver::Placement union_placement(const std::vector<std::string>& order) const {
    solver::Placement x(order.size(), shape.total());
    for (std::size_t n = 0; n < order.size(); ++n)
      if (const auto& p = published.at(order[n]).placement)
        for (const auto g : p->experts) x.set(n, g, true);
    return x;
  }
};

Sim three_nodes() {
  Sim sim;
  sim.add("a", 6000);
  sim.add("b", 6000);
  sim.add("c", 6000);
  sim.set_stats("a", make_stats(sim.shape, 11, 10.0), 1);
  sim.set_stats("c", make_stats(sim.shape, 12, 5.0), 2);
  return sim;
}

// The daemon's node step ends with node-local fills and swaps: with the other nodes fixed,
// no fill and no swap of one held expert for another on this node may still pay. Checked
// exhaustively with a fresh evaluator (no pruning). OLMoE shape at F = 0.1, where the
// step's chains alone leave such swaps (it fails without them).
TEST(PlacementCoordinator, NodeStepEndsWhereNoSingleSwapOrFillPays) {
  solver::GeneratorOptions g;
  g.nodes = 4;
  g.clients = 2;
  g.budget_fraction = 0.1;
  g.samples_per_layer = 16;
  g.seed = 4;
  auto in = solver::generate_instance(*solver::find_model_preset("olmoe-1b-7b"), g);
  ASSERT_TRUE(in.has_value());
  auto problem = solver::build_problem(*in);
  ASSERT_TRUE(problem.has_value());
  const auto p = std::make_shared<const solver::Problem>(std::move(problem).value());
  auto others = solver::solve(*p, solver::Algorithm::popularity_distinct);
  ASSERT_TRUE(others.has_value());
  std::size_t checked = 0;
  for (std::size_t self = 0; self < p->num_nodes; ++self) {
    NodeStepTask task;
    task.problem = p;
    task.self = self;
    task.others = others->placement;
    for (std::size_t e = 0; e < p->num_experts; ++e) task.others.set(self, e, false);
    const NodeStepResult r = run_node_step(task);
    ASSERT_TRUE(r.error.empty()) << r.error;
    solver::Placement x = task.others;
    std::uint64_t used = 0;
    for (const auto e : r.experts) {
      x.set(self, e, true);
      used += p->size[e];
    }
    ASSERT_LE(used, p->budget[self]);
    const auto moves = solver::testing::paying_local_moves(*p, x, self);
    EXPECT_TRUE(moves.paying.empty()) << "node " << self << " " << solver::testing::first_moves(moves);
    checked += moves.checked;
  }
  EXPECT_GT(checked, 1000u);
}

TEST(PlacementCoordinator, NodesAgreeOnEpochAndDigestAndPublishInNameOrder) {
  auto sut = three_nodes();

  ASSERT_TRUE(sut.run_until_settled(1));

  std::set<std::string> digests;
  for (const auto& [name, c] : sut.nodes) {
    EXPECT_EQ(c.epoch(), 1u) << name;
    ASSERT_TRUE(sut.published[name].placement.has_value()) << name;
    EXPECT_EQ(sut.published[name].placement->epoch, 1u);
    digests.insert(sut.published[name].placement->digest);
    EXPECT_LE(sut.published[name].placement->experts.size() * sut.expert_bytes, 6000u) << name << " over budget";
  }
  EXPECT_EQ(digests.size(), 1u);
  EXPECT_EQ(sut.publish_log, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sut.nodes.at("b").order(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sut.nodes.at("a").cause(), "first statistics");
}

TEST(PlacementCoordinator, DecentralisedResultIsAtLeastTheBaselinesAndCloseToCentralisedSgdFast) {
  auto sut = three_nodes();
  ASSERT_TRUE(sut.run_until_settled(1));
  for (int i = 0; i < 3; ++i) {  // best-response passes, one per epoch
    sut.nodes.at("a").force_epoch("test");
    ASSERT_TRUE(sut.run_until_settled(sut.nodes.at("a").epoch() + 1));
  }
  const auto view = sut.view();
  const auto order = server_order(view);
  auto problem = build_view_problem(view, order, LatencyModel{});
  ASSERT_TRUE(problem.has_value()) << problem.error();

  solver::Evaluator eval(*problem);
  eval.reset(sut.union_placement(order));
  const double decentralised = eval.reduction();

  auto central = solver::solve(*problem, solver::Algorithm::sgd_fast);
  ASSERT_TRUE(central.has_value());
  EXPECT_TRUE(solver::is_feasible(*problem, eval.placement()));
  EXPECT_GE(decentralised, 0.97 * central->reduction_s) << "central " << central->reduction_s;
  for (auto baseline : {solver::Algorithm::popularity, solver::Algorithm::random, solver::Algorithm::layer_uniform,
                        solver::Algorithm::popularity_distinct}) {
    auto b = solver::solve(*problem, baseline);
    ASSERT_TRUE(b.has_value());
    EXPECT_GE(decentralised, b->reduction_s) << solver::algorithm_name(baseline);
  }
}

TEST(PlacementCoordinator, UnderStationaryStatisticsNoExpertMovesMoreThanOnceInTenEpochs) {
  auto sut = three_nodes();
  ASSERT_TRUE(sut.run_until_settled(1));

  for (int i = 0; i < 10; ++i) {
    sut.nodes.at("b").force_epoch("operator");
    ASSERT_TRUE(sut.run_until_settled(sut.nodes.at("b").epoch() + 1));
  }

  for (const auto& [name, hist] : sut.history) {
    ASSERT_GE(hist.size(), 11u) << name;
    std::map<std::uint32_t, int> moves;
    for (std::size_t i = 1; i < hist.size(); ++i) {
      std::vector<std::uint32_t> diff;
      std::set_symmetric_difference(hist[i - 1].begin(), hist[i - 1].end(), hist[i].begin(), hist[i].end(),
                                    std::back_inserter(diff));
      for (const auto g : diff) ++moves[g];
    }
    for (const auto& [g, count] : moves) EXPECT_LE(count, 1) << name << " expert " << g;
  }
}

TEST(PlacementCoordinator, ASilentPredecessorIsReplacedByItsLastPlacementAfterTheTimeout) {
  auto sut = three_nodes();
  sut.mute.insert("a");

  ASSERT_TRUE(sut.run_until_settled(1));

  EXPECT_FALSE(sut.published["a"].placement.has_value());
  EXPECT_TRUE(sut.published["b"].placement.has_value());
  EXPECT_TRUE(sut.published["c"].placement.has_value());
  EXPECT_EQ(sut.nodes.at("b").timeouts(), 1u);
  EXPECT_EQ(sut.publish_log, (std::vector<std::string>{"b", "c"}));
}

TEST(PlacementCoordinator, AServerLeavingStartsAMembershipEpochNoSoonerThanTheMinimumInterval) {
  auto sut = three_nodes();
  ASSERT_TRUE(sut.run_until_settled(1));
  const auto settled_at = sut.now;

  sut.published.erase("c");
  sut.nodes.erase("c");
  ASSERT_TRUE(sut.run_until_settled(2));

  EXPECT_EQ(sut.nodes.at("a").cause(), "membership");
  EXPECT_GE(sut.now - settled_at, 1s);  // epoch 1 started ~0.2 s before settling; interval 2 s
  EXPECT_EQ(sut.nodes.at("b").order(), (std::vector<std::string>{"a", "b"}));
}

TEST(PlacementCoordinator, DriftBeyondTheThresholdStartsAnEpochAndSmallDriftDoesNot) {
  auto sut = three_nodes();
  ASSERT_TRUE(sut.run_until_settled(1));
  for (int i = 0; i < 40; ++i) sut.step();
  ASSERT_EQ(sut.nodes.at("a").epoch(), 1u);

  sut.set_stats("a", make_stats(sut.shape, 11, 10.5), 3);  // same distribution, new rate
  for (int i = 0; i < 40; ++i) sut.step();
  EXPECT_EQ(sut.nodes.at("a").epoch(), 1u) << "drift " << sut.nodes.at("a").last_drift();

  sut.set_stats("a", make_stats(sut.shape, 99, 10.0), 4);  // another popularity order
  ASSERT_TRUE(sut.run_until_settled(2));
  EXPECT_EQ(sut.nodes.at("c").cause(), "drift");
}

TEST(PlacementCoordinator, ANodeWithoutBudgetFollowsEpochsButPublishesNoPlacement) {
  auto sut = three_nodes();
  sut.add("z-client", 0);
  sut.set_stats("z-client", make_stats(sut.shape, 5, 3.0), 9);

  ASSERT_TRUE(sut.run_until_settled(1));

  EXPECT_EQ(sut.nodes.at("z-client").epoch(), 1u);
  EXPECT_FALSE(sut.published["z-client"].placement.has_value());
  EXPECT_EQ(sut.nodes.at("a").order().size(), 3u);
}

TEST(PlacementCoordinator, ARestartedStarterOfTheNewestEpochFollowsItFromThePlacements) {
  auto sut = three_nodes();
  ASSERT_TRUE(sut.run_until_settled(1));
  sut.nodes.at("b").force_epoch("operator");
  ASSERT_TRUE(sut.run_until_settled(2));
  ASSERT_TRUE(sut.published["b"].epoch.has_value());
  ASSERT_EQ(sut.published["b"].epoch->epoch, 2u);
  const std::uint64_t started_before = sut.nodes.at("a").epochs_started();

  // b restarts: a new process with a fresh coordinator and none of its values published yet
  // (the others still hold epoch 1 from a, and the placements of epoch 2).
  CoordinatorOptions options;
  options.self = "b";
  options.min_interval = 2s;
  options.publish_timeout = 1s;
  sut.nodes.erase("b");
  sut.nodes.emplace("b", Coordinator(options));
  sut.published["b"].epoch.reset();
  sut.published["b"].placement.reset();
  for (int i = 0; i < 10; ++i) sut.step();

  EXPECT_EQ(sut.nodes.at("b").epoch(), 2u);
  EXPECT_EQ(sut.nodes.at("a").epoch(), 2u);
  EXPECT_EQ(sut.nodes.at("a").epochs_started(), started_before) << "a must not go back or start another epoch";
  ASSERT_TRUE(sut.published["b"].placement.has_value());
  EXPECT_EQ(sut.published["b"].placement->epoch, 2u);
}

TEST(PlacementCoordinator, NoStatisticsMeansNoEpoch) {
  Sim sut;
  sut.add("a", 6000);
  sut.add("b", 6000);

  for (int i = 0; i < 50; ++i) sut.step();

  EXPECT_EQ(sut.nodes.at("a").epoch(), 0u);
  EXPECT_EQ(sut.nodes.at("a").phase(), Phase::k_idle);
}

}  // namespace
}  // namespace slimcache::agent::placement
