#include "agent/gossip/gossip_agent.hpp"

#include <gtest/gtest.h>

namespace slimcache::agent::gossip {
namespace {

using namespace std::chrono_literals;

// Real sockets on 127.0.0.1, one io_context, one thread. A fast timing profile keeps the
// test short; waits are bounded and poll the io_context, they never sleep.
GossipConfig fast(const std::string& name) {
  GossipConfig c = GossipConfig::local(name, "127.0.0.1:0");
  c.label = "loopback-test";
  c.probe_interval = 100ms;
  c.probe_timeout = 40ms;
  c.gossip_interval = 20ms;
  c.state_sync_interval = 20ms;
  c.suspicion_mult = 3;
  c.push_pull_interval = 2s;
  c.gossip_to_the_dead = 5s;
  return c;
}

struct LoopbackCluster {
  asio::io_context io;
  std::vector<std::unique_ptr<GossipAgent>> agents;
  explicit LoopbackCluster(std::size_t n) {
    Key k{};
    k.fill(7);
    for (std::size_t i = 0; i < n; ++i) {
      Keyring r;
      (void)r.install(k);
      agents.push_back(std::make_unique<GossipAgent>(io, fast("agent-" + std::to_string(i)), std::move(r)));
      auto started = agents.back()->start();
      EXPECT_TRUE(started.has_value()) << (started ? "" : started.error().context);
    }
    for (std::size_t i = 1; i < n; ++i) agents[i]->join({agents[0]->address()});
  }
  bool run_until(const std::function<bool()>& pred, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      io.run_for(20ms);
    }
    return true;
  }
  bool all_see(std::size_t alive, std::size_t skip = SIZE_MAX) {
    for (std::size_t i = 0; i < agents.size(); ++i) {
      if (i == skip) continue;
      if (agents[i]->node().count(MemberState::alive) != alive) return false;
    }
    return true;
  }
};

TEST(GossipLoopback, EightAgentsJoinShareStateAndDetectAKilledOne) {
  LoopbackCluster c(8);
  ASSERT_TRUE(c.run_until([&] { return c.all_see(8); }, 20s)) << "join did not converge";

  const Bytes value{'3', '2', 'G'};
  ASSERT_TRUE(c.agents[2]->set_state("budget", value).has_value());
  EXPECT_TRUE(c.run_until(
      [&] {
        for (auto& a : c.agents)
          if (a->peer_state("agent-2", "budget") != value) return false;
        return true;
      },
      20s));

  c.agents[5]->stop();  // killed: no leave message
  const bool detected = c.run_until(
      [&] {
        for (std::size_t i = 0; i < c.agents.size(); ++i) {
          if (i == 5) continue;
          auto m = c.agents[i]->node().member("agent-5");
          if (m && m->state != MemberState::dead) return false;
        }
        return true;
      },
      30s);
  EXPECT_TRUE(detected);
  EXPECT_TRUE(c.all_see(7, 5)) << "a live agent was declared dead";
  for (std::size_t i = 0; i < c.agents.size(); ++i) {
    if (i == 5) continue;
    EXPECT_EQ(c.agents[i]->counters().drop_count(DropReason::auth_failed), 0u);
  }
  // Every agent gets an RTT estimate for agent-0 once its round-robin probing reaches it
  // (regression: asserting it at once raced with the probe order).
  EXPECT_TRUE(c.run_until(
      [&] {
        for (std::size_t i = 1; i < c.agents.size(); ++i)
          if (i != 5 && !c.agents[i]->rtt("agent-0").has_value()) return false;
        return true;
      },
      20s))
      << "an agent never measured its round trip to agent-0";
}

TEST(GossipLoopback, BadAddressIsAnError) {
  asio::io_context io;
  GossipAgent sut(io, fast("x"), Keyring{});
  GossipConfig bad = fast("y");
  bad.address = "not-an-address";
  GossipAgent sut2(io, bad, Keyring{});

  auto r = sut2.start();

  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace slimcache::agent::gossip
