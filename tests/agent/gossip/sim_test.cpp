#include "agent/gossip/sim_network.hpp"
#include "agent/gossip/sim_scenario.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

namespace slimcache::agent::gossip {
namespace {

using namespace std::chrono_literals;

TEST(GossipSimulation, StandardScenarioAt64NodesWithLossConvergesWithoutFalsePositives) {
  ScenarioOptions o;
  o.nodes = 64;
  o.loss = 0.05;
  o.seed = 11;
  o.updates = 5;
  o.idle_window = 10s;

  const ScenarioResult sut = run_standard_scenario(o);

  SCOPED_TRACE("seed " + std::to_string(o.seed));
  EXPECT_TRUE(sut.join_converged);
  EXPECT_EQ(sut.updates_incomplete, 0u);
  EXPECT_LE(sut.converge_rounds.p99, 15.0);
  EXPECT_TRUE(sut.crash_detected_everywhere);
  EXPECT_EQ(sut.false_positives, 0u);
  EXPECT_EQ(sut.stall_declared_dead, 0u);
  EXPECT_TRUE(sut.healed);
}

TEST(GossipSimulation, SameSeedSameRun) {
  ScenarioOptions o;
  o.nodes = 24;
  o.loss = 0.02;
  o.seed = 5;
  o.updates = 3;
  o.idle_window = 5s;
  o.partition = 5s;

  const ScenarioResult a = run_standard_scenario(o);
  const ScenarioResult b = run_standard_scenario(o);

  EXPECT_EQ(a.converge_rounds.max, b.converge_rounds.max);
  EXPECT_EQ(a.detect_s.max, b.detect_s.max);
  EXPECT_EQ(a.bytes_per_node_per_s_total, b.bytes_per_node_per_s_total);
  EXPECT_EQ(a.heal_s, b.heal_s);
}

class Cluster {
 public:
  Cluster(std::size_t n, std::uint64_t seed, double loss, const std::string& label = "c", std::uint8_t key = 1,
          std::size_t first = 0)
      : net(SimOptions{seed, loss, 2ms, 1ms}) {
    add(n, label, key, first);
  }
  void add(std::size_t n, const std::string& label, std::uint8_t key, std::size_t first) {
    for (std::size_t i = first; i < first + n; ++i) {
      GossipConfig c = GossipConfig::lan("n" + std::to_string(i), "10.0.0." + std::to_string(i) + ":7946");
      c.label = label;
      Keyring r;
      Key k{};
      k.fill(key);
      (void)r.install(k);
      net.add_node(std::move(c), std::move(r));
    }
  }
  void join_all(std::size_t from, std::size_t to, const Address& seed) {
    for (std::size_t i = from; i < to; ++i) net.join(i, {seed});
  }
  bool all_see(std::size_t from, std::size_t to, std::size_t alive) {
    for (std::size_t i = from; i < to; ++i)
      if (!net.crashed(i) && net.node(i).count(MemberState::alive) != alive) return false;
    return true;
  }
  SimNetwork net;
};

TEST(GossipSimulation, LargeValueReachesEveryNodeIntact) {
  Cluster c(32, 21, 0.02);
  c.join_all(1, 32, "10.0.0.0:7946");
  ASSERT_TRUE(c.net.run_until([&] { return c.all_see(0, 32, 32); }, c.net.now() + 30s, 100ms));
  std::mt19937_64 rng(21);
  Bytes stats(58 * 256 * 2);  // one client's DeepSeek-V3 activation statistics, 16-bit counts
  for (auto& b : stats) b = static_cast<std::uint8_t>(rng());

  ASSERT_TRUE(c.net.node(3).set_state("activation/deepseek-v3", stats).has_value());
  const bool everywhere = c.net.run_until(
      [&] {
        for (std::size_t i = 0; i < 32; ++i)
          if (c.net.node(i).state("n3", "activation/deepseek-v3") != stats) return false;
        return true;
      },
      c.net.now() + 30s, 100ms);

  EXPECT_TRUE(everywhere) << "seed 21";
}

TEST(GossipSimulation, ClustersWithDifferentLabelsStayApart) {
  Cluster c(6, 3, 0.0, "blue", 1);
  c.add(6, "green", 1, 6);
  c.join_all(1, 6, "10.0.0.0:7946");
  c.join_all(7, 12, "10.0.0.6:7946");
  c.net.join(0, {"10.0.0.6:7946"});  // a blue node tries to join green

  c.net.run_for(20s);

  EXPECT_TRUE(c.all_see(0, 12, 6));
  std::uint64_t dropped = 0;
  for (std::size_t i = 6; i < 12; ++i) dropped += c.net.node(i).counters().drop_count(DropReason::auth_failed);
  EXPECT_GT(dropped, 0u);
}

TEST(GossipSimulation, KeyRotationKeepsEveryoneAlive) {
  Cluster c(12, 9, 0.01);
  c.join_all(1, 12, "10.0.0.0:7946");
  ASSERT_TRUE(c.net.run_until([&] { return c.all_see(0, 12, 12); }, c.net.now() + 30s, 100ms));
  Key k1{}, k2{};
  k1.fill(1);
  k2.fill(2);

  for (std::size_t i = 0; i < 12; ++i) ASSERT_TRUE(c.net.node(i).keyring().install(k2).has_value());
  c.net.run_for(3s);
  for (std::size_t i = 0; i < 12; ++i) ASSERT_TRUE(c.net.node(i).keyring().use(k2).has_value());
  c.net.run_for(3s);
  for (std::size_t i = 0; i < 12; ++i) ASSERT_TRUE(c.net.node(i).keyring().remove(k1).has_value());
  c.net.run_for(30s);

  EXPECT_TRUE(c.all_see(0, 12, 12));
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(c.net.node(i).counters().drop_count(DropReason::unknown_key), 0u);
}

TEST(GossipSimulation, GracefulLeaveIsSeenAsLeftNotDead) {
  Cluster c(10, 4, 0.0);
  c.join_all(1, 10, "10.0.0.0:7946");
  ASSERT_TRUE(c.net.run_until([&] { return c.all_see(0, 10, 10); }, c.net.now() + 30s, 100ms));

  c.net.leave(5);
  c.net.run_for(1s);
  c.net.crash(5);  // the process exits after its leave has spread
  c.net.run_for(5s);

  for (std::size_t i = 0; i < 10; ++i)
    if (i != 5) {
      EXPECT_EQ(c.net.node(i).member("n5")->state, MemberState::left) << "node " << i;
    }
}

// The target: 1000 nodes, 5% loss. Long: about a minute in a Release build.
TEST(GossipSimulationLong, ThousandNodesFivePercentLoss) {
  if (std::getenv("SLIMCACHE_LONG_TESTS") == nullptr) GTEST_SKIP() << "set SLIMCACHE_LONG_TESTS=1 (label long)";
  ScenarioOptions o;
  o.nodes = 1000;
  o.loss = 0.05;
  o.seed = 1;

  const ScenarioResult sut = run_standard_scenario(o);

  EXPECT_LE(sut.converge_rounds.p99, 15.0);
  EXPECT_TRUE(sut.crash_detected_everywhere);
  EXPECT_EQ(sut.false_positives, 0u);
  EXPECT_EQ(sut.stall_declared_dead, 0u);
}

}  // namespace
}  // namespace slimcache::agent::gossip
