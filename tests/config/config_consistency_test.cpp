// The config schema names things other subsystems define: these tests fail when the two
// drift apart (a policy renamed, an algorithm added, a gossip preset retuned).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "agent/cache/paging_policies.hpp"
#include "agent/gossip/config.hpp"
#include "config/daemon_config.hpp"
#include "solver/algorithms.hpp"

namespace slimcache::config {
namespace {

const FieldSpec& field(std::string_view key) {
  for (const auto& f : daemon_config_schema())
    if (f.key == key) return f;
  ADD_FAILURE() << "no key " << key;
  return daemon_config_schema().front();
}

bool has_choice(const FieldSpec& f, std::string_view name) {
  return std::find(f.choices.begin(), f.choices.end(), name) != f.choices.end();
}

TEST(ConfigConsistency, CachePoliciesAreTheCachesOwnAndTheDefaultMatches) {
  const FieldSpec& sut = field("cache.policy");
  for (auto choice : sut.choices) EXPECT_TRUE(agent::cache::make_policy(choice).has_value()) << choice;
  for (auto name : agent::cache::policy_names()) {
    if (name != "belady") {
      EXPECT_TRUE(has_choice(sut, name)) << name << " is missing from cache.policy";
    }
  }
  EXPECT_FALSE(has_choice(sut, "belady"));  // offline optimum: evaluation only
  EXPECT_EQ(DaemonConfig{}.cache.policy, agent::cache::k_default_policy);
}

TEST(ConfigConsistency, PlacementAlgorithmsAreTheSolversOwn) {
  const FieldSpec& sut = field("placement.algorithm");
  for (auto choice : sut.choices) EXPECT_TRUE(solver::find_algorithm(choice).has_value()) << choice;
  for (auto a : solver::all_algorithms())
    EXPECT_TRUE(has_choice(sut, solver::algorithm_name(a))) << solver::algorithm_name(a) << " is missing";
  EXPECT_TRUE(solver::find_algorithm(DaemonConfig{}.placement.algorithm).has_value());
}

TEST(ConfigConsistency, GossipProfilesMatchTheGossipPresets) {
  using agent::gossip::GossipConfig;
  const std::pair<const char*, GossipConfig> presets[] = {
      {"lan", GossipConfig::lan("n", "127.0.0.1:1")},
      {"wan", GossipConfig::wan("n", "127.0.0.1:1")},
      {"local", GossipConfig::local("n", "127.0.0.1:1")}};
  for (const auto& [name, g] : presets) {
    SCOPED_TRACE(name);
    const GossipTiming* sut = gossip_profile(name);
    ASSERT_NE(sut, nullptr);
    EXPECT_EQ(sut->probe_interval, g.probe_interval);
    EXPECT_EQ(sut->probe_timeout, g.probe_timeout);
    EXPECT_EQ(static_cast<int>(sut->indirect_checks), g.indirect_checks);
    EXPECT_EQ(sut->gossip_interval, g.gossip_interval);
    EXPECT_EQ(static_cast<int>(sut->gossip_fanout), g.gossip_nodes);
    EXPECT_EQ(static_cast<int>(sut->retransmit_multiplier), g.retransmit_mult);
    EXPECT_EQ(static_cast<int>(sut->suspicion_multiplier), g.suspicion_mult);
    EXPECT_EQ(static_cast<int>(sut->suspicion_max_timeout_multiplier), g.suspicion_max_timeout_mult);
    EXPECT_EQ(static_cast<int>(sut->awareness_max_multiplier), g.awareness_max_multiplier);
    EXPECT_EQ(sut->push_pull_interval, g.push_pull_interval);
    EXPECT_EQ(sut->dead_node_grace, g.gossip_to_the_dead);
  }
  EXPECT_EQ(static_cast<std::size_t>(DaemonConfig{}.gossip.max_packet_size), GossipConfig{}.packet_size);
}

}  // namespace
}  // namespace slimcache::config
