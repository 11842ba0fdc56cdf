// Integration: a cluster of slimcached processes on loopback doing decentralised placement
// for real: join, import on the origin, workloads through two engine interfaces, the epoch,
// transfers over TLS, a node killed and restarted, a new node joining, forced epochs under
// stationary statistics. Asserts behaviour (agreement, every expert held, no flapping);
// every wait is bounded. The timed version with 8 nodes is tests/agent/daemon/cluster_bench.cpp.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/agent/daemon/cluster_observer.hpp"

namespace slimcache::agent {
namespace {

using namespace std::chrono_literals;
using cluster_obs::all_settled;
using cluster_obs::observe;
using cluster_obs::unheld;

constexpr std::uint32_t k_layers = 6, k_experts = 16, k_top_k = 2, k_hidden = 32, k_ffn = 16;
constexpr std::uint32_t k_total = k_layers * k_experts;

class ClusterProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli::LocalClusterOptions o;
    o.nodes = 4;
    o.spare_nodes = 1;
    const std::uint64_t expert_disk = 3ull * k_hidden * k_ffn * 2 + 4096;
    o.disk_budget = k_total * expert_disk / 4;
    o.memory_budget = o.disk_budget / 2;
    o.slimcached = SLIMCACHED_PATH;
    o.placement_toml = "latency_expert_bytes = \"12MB\"\n";
    std::string error;
    auto c = cli::LocalCluster::create(o, error);
    ASSERT_TRUE(c.has_value()) << error;
    m_cluster.emplace(std::move(*c));
  }
  void TearDown() override {
    if (HasFailure() && m_cluster) {
      m_cluster->keep = true;
      std::cerr << "daemon logs kept in " << m_cluster->dir << "\n";
    }
  }
  cli::LocalCluster& cluster() { return *m_cluster; }

  void import_and_load() {
    const auto ckpt = cluster().dir / "checkpoint";
    model::write_checkpoint(ckpt, {model::Family::k_qwen3_moe, k_layers, k_experts, k_top_k, k_hidden, k_ffn, 1,
                                   config::DType::k_bf16});
    std::string error;
    auto imported = cluster().call(0, "import", {{"model_dir", ckpt.string()}}, 120s, &error);
    ASSERT_TRUE(imported.has_value()) << error;
    for (std::size_t i = 0; i < 2; ++i) {  // node1 and node2 run inference engines
      std::optional<nlohmann::json> status;
      ASSERT_TRUE(cluster().wait_for(
          [&] { return (status = cluster().call(i, "status", {}, 1s)) && (*status)["cache"].contains("shm_name"); }, 30s))
          << "node" << i + 1 << " never learnt the model";
      auto recorded = cli::record_trace((*status)["cache"]["shm_name"].get<std::string>(),
                                        cli::synthetic_trace(k_layers, k_experts, k_top_k, 400, 20 + i));
      ASSERT_TRUE(recorded.has_value()) << recorded.error();
    }
  }

  std::optional<cli::LocalCluster> m_cluster;
};

TEST_F(ClusterProcessTest, PlacementSettlesSurvivesAKillAndARestartAndStopsMovingUnderStationaryLoad) {
  ASSERT_TRUE(cluster().start_all());
  ASSERT_TRUE(cli::wait_members(cluster(), 4, 30s));
  import_and_load();

  // 1. The first epochs settle: one epoch, one digest, every plan held, every expert held.
  std::map<std::string, cluster_obs::NodePlacement> view;
  ASSERT_TRUE(cluster().wait_for([&] { return all_settled(view = observe(cluster()), 4, 1); }, 90s));
  EXPECT_TRUE(unheld(view, k_total).empty());
  std::size_t fetched_copies = 0;
  for (const auto& [name, p] : view) {
    for (const auto g : p.planned) EXPECT_TRUE(p.held.count(g)) << name << " does not hold planned expert " << g;
    if (name != "node1") fetched_copies += p.held.size();
  }
  EXPECT_GT(fetched_copies, 0u) << "no expert moved from the origin";

  // 2. A server dies (SIGKILL): the survivors start a membership epoch and settle again.
  const auto before = view.begin()->second.epoch;
  cluster().kill(2, SIGKILL);
  ASSERT_TRUE(cli::wait_members(cluster(), 3, 60s));
  ASSERT_TRUE(cluster().wait_for([&] { return all_settled(view = observe(cluster()), 3, before + 1); }, 90s));
  EXPECT_TRUE(unheld(view, k_total).empty());
  EXPECT_EQ(view.count("node3"), 0u);

  // 3. It comes back with its disk; a new node joins too.
  ASSERT_TRUE(cluster().start(2));
  ASSERT_TRUE(cluster().start(4));
  ASSERT_TRUE(cli::wait_members(cluster(), 5, 60s));
  const auto after_kill = view.begin()->second.epoch;
  ASSERT_TRUE(cluster().wait_for([&] { return all_settled(view = observe(cluster()), 5, after_kill + 1); }, 90s));
  EXPECT_TRUE(unheld(view, k_total).empty());
  EXPECT_GE(view.at("node5").epoch, after_kill + 1);

  // 4. Stationary statistics: forced epochs move no expert more than once.
  std::map<std::string, std::set<std::uint32_t>> last;
  std::map<std::pair<std::string, std::uint32_t>, int> moves;
  for (const auto& [name, p] : view) last[name] = p.planned;
  for (int round = 0; round < 5; ++round) {
    const auto epoch = view.begin()->second.epoch;
    ASSERT_TRUE(cluster().call(0, "placement.epoch").has_value());
    ASSERT_TRUE(cluster().wait_for([&] { return all_settled(view = observe(cluster()), 5, epoch + 1); }, 60s))
        << "round " << round;
    for (const auto& [name, p] : view) {
      for (std::uint32_t g = 0; g < k_total; ++g)
        if (p.planned.count(g) != last[name].count(g)) ++moves[{name, g}];
      last[name] = p.planned;
    }
  }
  for (const auto& [key, count] : moves) EXPECT_LE(count, 1) << key.first << " expert " << key.second;
}

}  // namespace
}  // namespace slimcache::agent
