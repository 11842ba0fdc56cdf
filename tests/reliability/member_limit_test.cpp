// Too many peers: the gossip member table is bounded (gossip.max_members). A node whose
// table is full refuses nodes it does not know (counted, reported at most once per
// GossipNode::k_refusal_report_interval), the members it knows are unaffected, the rest of
// the cluster still sees it alive, and a refused node gets in once a slot is reaped.
// Simulated network (SimNetwork), seeded: the seed is in every failure message.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "agent/gossip/sim_network.hpp"
#include "config/daemon_config.hpp"

namespace slimcache::agent::gossip {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t k_limit = 6;

class MemberLimitTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t k_seed = 20261123;

  MemberLimitTest() : net(SimOptions{k_seed, 0.0, 2ms, 1ms}) {}

  void add_nodes(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t id = net.size();
      GossipConfig c = GossipConfig::lan("n" + std::to_string(id), "10.0.0." + std::to_string(id + 1) + ":7946");
      c.label = "limit";
      if (id == 0) c.max_members = k_limit;
      Keyring r;
      Key k{};
      k.fill(7);
      (void)r.install(k);
      net.add_node(std::move(c), std::move(r));
    }
  }
  std::set<std::string> table_of(std::size_t i) {
    std::set<std::string> out;
    for (const auto& m : net.node(i).members()) out.insert(m.name);
    return out;
  }

  SimNetwork net;
  std::vector<Event> limited_events;  // events of node 0 (the limited one)
};

TEST_F(MemberLimitTest, ANodeWithAFullTableRefusesNewMembersAndKeepsItsKnownOnes) {
  SCOPED_TRACE("seed " + std::to_string(k_seed));
  net.set_event_hook([this](std::size_t i, const Event& e) {
    if (i == 0) limited_events.push_back(e);
  });
  // Arrange: node 0 (limit 6) and five others converge.
  add_nodes(k_limit);
  for (std::size_t i = 1; i < k_limit; ++i) net.join(i, {"10.0.0.1:7946"});
  ASSERT_TRUE(net.run_until([&] { return net.node(0).count(MemberState::alive) == k_limit; }, net.now() + 30s, 100ms));
  const auto known = table_of(0);
  const TimePoint flood_start = net.now();

  // Act: six more nodes join through node 1 and the cluster runs for a minute.
  add_nodes(6);
  for (std::size_t i = k_limit; i < net.size(); ++i) net.join(i, {"10.0.0.2:7946"});
  net.run_for(60s);

  // Assert: node 0's table is unchanged and full of live known members.
  auto& sut = net.node(0);
  EXPECT_EQ(table_of(0), known);
  EXPECT_EQ(sut.count(MemberState::alive), k_limit);
  EXPECT_GT(sut.counters().members_refused, 0u);
  // Refusals are reported, rate-limited, and the reports never over-count.
  std::uint64_t reported = 0;
  std::size_t reports = 0;
  std::optional<TimePoint> last;
  for (const auto& e : limited_events) {
    if (e.kind == EventKind::member_refused) {
      ++reports;
      reported += e.version;
      EXPECT_EQ(known.count(e.node), 0u) << "a known member was refused: " << e.node;
      if (last) {
        EXPECT_GE(e.at - *last, GossipNode::k_refusal_report_interval);
      }
      last = e.at;
    }
    if (e.at >= flood_start && known.count(e.node)) {
      EXPECT_TRUE(e.kind == EventKind::state_change) << "known member " << e.node << ": " << to_string(e.kind);
    }
  }
  EXPECT_GE(reports, 1u);
  EXPECT_LE(reports, 1u + static_cast<std::size_t>((net.now() - flood_start) / GossipNode::k_refusal_report_interval));
  EXPECT_LE(reported, sut.counters().members_refused);
  // Everyone else (no limit) sees all twelve alive, node 0 included.
  for (std::size_t i = 1; i < net.size(); ++i)
    EXPECT_EQ(net.node(i).count(MemberState::alive), net.size()) << "node n" << i;
}

TEST_F(MemberLimitTest, ARefusedNodeGetsInOnceAKnownMemberLeavesAndIsReaped) {
  SCOPED_TRACE("seed " + std::to_string(k_seed));
  add_nodes(k_limit);
  for (std::size_t i = 1; i < k_limit; ++i) net.join(i, {"10.0.0.1:7946"});
  ASSERT_TRUE(net.run_until([&] { return net.node(0).count(MemberState::alive) == k_limit; }, net.now() + 30s, 100ms));
  add_nodes(1);
  net.join(k_limit, {"10.0.0.2:7946"});
  net.run_for(10s);
  ASSERT_EQ(table_of(0).count("n6"), 0u);
  const auto refused_before = net.node(0).counters().members_refused;
  ASSERT_GT(refused_before, 0u);

  // Act: n3 leaves; after the dead grace (gossip_to_the_dead) its slot is reaped.
  net.leave(3);
  const auto grace = net.node(0).config().gossip_to_the_dead;
  const bool admitted = net.run_until([&] { return table_of(0).count("n6") == 1; }, net.now() + grace + 90s, 500ms);

  // Assert
  EXPECT_TRUE(admitted) << "n6 never entered node 0's table after n3 was reaped";
  EXPECT_EQ(table_of(0).count("n3"), 0u);
  EXPECT_LE(net.node(0).members().size(), k_limit);
}

TEST(MemberLimitConfig, TheKeyHasBoundsAndReachesTheGossipDefault) {
  config::Environment env;
  env.hostname = "limit-test";
  env.vars["HOME"] = "/home/tester";
  auto ok = config::parse_daemon_config({{"main.toml", "[gossip]\nmax_members = 64\n"}}, env);
  auto too_small = config::parse_daemon_config({{"main.toml", "[gossip]\nmax_members = 1\n"}}, env);
  auto too_big = config::parse_daemon_config({{"main.toml", "[gossip]\nmax_members = 1000000\n"}}, env);

  ASSERT_TRUE(ok.has_value()) << ok.error().front().to_string();
  EXPECT_EQ(ok->gossip.max_members, 64u);
  ASSERT_FALSE(too_small.has_value());
  EXPECT_NE(too_small.error().front().message.find("between 2 and 65536"), std::string::npos)
      << too_small.error().front().message;
  EXPECT_FALSE(too_big.has_value());
  EXPECT_EQ(static_cast<std::size_t>(config::DaemonConfig{}.gossip.max_members), GossipConfig{}.max_members);
}

}  // namespace
}  // namespace slimcache::agent::gossip
