#pragma once
// The standard gossip scenario on the simulated network (sim_network.hpp), used by
// `slimctl sim gossip` and the simulation tests:
//   1. N nodes join over a few seconds, each through a random earlier node; wait until
//      every node sees all N alive (join convergence);
//   2. after a settling time, an idle window measures background traffic;
//   3. `updates` small state updates from random nodes: time until every node has each;
//   4. one node crashes: time until each survivor declares it dead;
//   5. another node stalls for `stall` (1 s): it must not be declared dead;
//   6. the survivors split in two halves for `partition`, then heal: time until every
//      survivor sees every other survivor alive again.
// A false positive is a survivor declared dead outside the partition phase; heal_flaps counts
// survivors declared dead by a node of their own side during the partition phase (stale
// verdicts racing the refutations when the sides meet again).
// Deterministic for a given options (seed included).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/gossip/config.hpp"

namespace slimcache::agent::gossip {

struct ScenarioOptions {
  std::size_t nodes = 64;
  double loss = 0.0;
  std::uint64_t seed = 1;
  Duration delay = std::chrono::milliseconds(2);
  Duration jitter = std::chrono::milliseconds(1);
  bool encrypt = true;
  std::string profile = "lan";  // lan, wan or local (memberlist's presets)
  int updates = 10;
  Duration update_spacing = std::chrono::seconds(2);
  Duration settle = std::chrono::seconds(20);       // after the join, before the idle window
  Duration idle_window = std::chrono::seconds(60);  // long enough to average push-pulls
  Duration stall = std::chrono::seconds(1);
  Duration partition = std::chrono::seconds(20);
  // Progress notes ("joining", "crash", ...) for a terminal; may be empty.
  std::function<void(const std::string&)> progress;
};

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  std::size_t count = 0;
};
[[nodiscard]] Percentiles percentiles(std::vector<double> values);

struct ScenarioResult {
  std::size_t nodes = 0;
  double loss = 0;
  std::uint64_t seed = 0;
  double gossip_interval_s = 0;
  bool join_converged = false;
  double join_converge_s = 0;      // after the last join
  Percentiles converge_rounds;     // per update: rounds until every live node has it
  Percentiles converge_s;
  std::size_t updates_incomplete = 0;
  bool crash_detected_everywhere = false;
  Percentiles detect_s;            // per survivor: crash to "dead"
  std::size_t stall_declared_dead = 0;
  std::size_t false_positives = 0;
  std::size_t heal_flaps = 0;
  bool healed = false;
  double heal_s = 0;
  double bytes_per_node_per_s = 0;        // idle window
  double bytes_per_node_per_s_total = 0;  // whole run
  double simulated_s = 0;
};

[[nodiscard]] ScenarioResult run_standard_scenario(const ScenarioOptions& options);

}  // namespace slimcache::agent::gossip
