#pragma once
// Decentralised placement epochs (MODEL.md 3.5): the protocol core. No I/O, no threads, no
// clock of its own: the daemon's PlacementService feeds it what gossip says (a
// ClusterView) and the time, runs the solve tasks it hands out on a worker thread, and
// publishes what it returns. Tests drive several coordinators through a shared view.
//
// Epochs. An epoch is a number; every node follows the highest one any member publishes
// ("placement.epoch", or the epoch of a member's placement: the node that started an epoch
// may have restarted since). A node starts epoch max+1 itself when it sees a meaningful change
// against the inputs of the last epoch (the servers taking part, their disk budgets, or a
// drift of the clients' aggregated activation statistics beyond drift_threshold, measured
// as ActivationStats::drift) and the last epoch started at least min_interval ago. The
// first epoch starts once some client has published statistics. An operator can force one.
//
// Order. The servers (members with the model and a disk budget) in name order: every node
// derives the same order from the same membership. Node i solves once nodes 0..i-1 have
// published a placement for this epoch, or publish_timeout after the epoch started (then
// their last placement stands in). The others' placements are fixed while it solves its
// own subproblem (solver/single_node.hpp, the successive greedy decomposition across
// nodes), with a migration cost per byte it would have to fetch, and hysteresis: the node
// keeps its previous placement unless the new one is better by more than `hysteresis` of
// its value. Baseline algorithms (popularity, random, ...) solve the whole instance the
// same way on every node and take their own row.
//
// Digest. Every node computes a digest of the epoch's inputs (shape, servers and budgets,
// clients and their statistics values); it is published with the placement, so nodes that
// solved from different inputs are visible (`slimctl placement`).
// Threads: not thread-safe; one owner (the daemon's io_context).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/placement/wire.hpp"
#include "solver/algorithms.hpp"
#include "solver/problem.hpp"

namespace slimcache::agent::placement {

using Clock = std::chrono::steady_clock;

// What gossip says about one alive member (this node included).
struct MemberView {
  std::string name;
  bool server = false;  // takes part in placement: knows the model, has a disk budget
  std::uint64_t disk_budget = 0;
  std::optional<EpochValue> epoch;
  std::optional<PlacementValue> placement;
  std::optional<HoldingsValue> holdings;
  std::optional<ClientStatsValue> stats;
  std::uint64_t stats_hash = 0;  // hash of the raw statistics value (for the digest)
};

struct ClusterView {
  ModelShape shape;
  std::uint64_t expert_bytes = 0;
  std::uint32_t hidden = 0;
  std::vector<MemberView> members;  // alive members, this node included, any order
  [[nodiscard]] const MemberView* find(const std::string& name) const;
};

// The latency model the instance is built with (MODEL.md section 2), the same on every node.
struct LatencyModel {
  double rtt_s = 0.0005;                  // between two nodes
  double bandwidth_bytes_per_s = 125e6;   // between two nodes
  double compute_bytes_per_s = 50e9;      // expert execution: weights streamed per second
  double fallback_bytes_per_s = 400e6;    // loading an expert no node caches
  double hidden_bytes_per_value = 4.0;    // fp32 hidden states
  double amortisation_tokens = 1e5;       // a fetched byte must pay off over this many tokens
  std::uint64_t expert_bytes = 0;         // execution and loading modelled at this size (0: the model's)
};

struct CoordinatorOptions {
  std::string self;
  solver::Algorithm algorithm = solver::Algorithm::sgd_fast;
  double epsilon = 0.01;
  Clock::duration min_interval = std::chrono::seconds(30);
  double drift_threshold = 0.1;
  Clock::duration publish_timeout = std::chrono::seconds(10);
  double migration_weight = 1.0;
  double hysteresis = 0.05;
  LatencyModel latency;
};

// Everything a node step needs, self-contained so that it can run on another thread.
struct NodeStepTask {
  std::uint64_t epoch = 0;
  std::string digest;
  std::shared_ptr<const solver::Problem> problem;
  std::vector<std::string> servers;      // node order; index = solver node
  std::size_t self = 0;
  solver::Placement others;              // every other server's placement; self row empty
  std::vector<std::uint32_t> previous;   // this node's previous placement (hysteresis)
  std::vector<std::uint32_t> held;       // verified on disk now (migration cost)
  solver::Algorithm algorithm = solver::Algorithm::sgd_fast;
  double epsilon = 0.01;
  double migration_s_per_byte = 0.0;
  double hysteresis = 0.0;
};

struct NodeStepResult {
  std::uint64_t epoch = 0;
  std::string digest;
  std::vector<std::uint32_t> experts;
  double gain_s = 0.0;        // F(x_-n + B_n) - F(x_-n) of the chosen content
  bool kept_previous = false;  // hysteresis kept the previous placement
  double solve_ms = 0.0;
  std::string error;          // non-empty: the step failed (the previous placement stands)
};

// Runs the node step (pure computation; any thread).
[[nodiscard]] NodeStepResult run_node_step(const NodeStepTask& task);

// Builds the placement instance of a view: servers in `servers` order, clients = members
// with statistics (name order). Errors name the field (solver::validate).
[[nodiscard]] Expected<solver::Problem, std::string> build_view_problem(const ClusterView& view,
                                                                        const std::vector<std::string>& servers,
                                                                        const LatencyModel& latency);
[[nodiscard]] std::vector<std::string> server_order(const ClusterView& view);
[[nodiscard]] std::string inputs_digest(const ClusterView& view, const LatencyModel& latency);

enum class Phase { k_idle, k_waiting, k_solving, k_done };
[[nodiscard]] const char* to_string(Phase p);

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options) : m_options(std::move(options)) {}

  struct Actions {
    std::optional<EpochValue> publish_epoch;  // this node started (or re-announces) an epoch
    std::optional<NodeStepTask> solve;        // run it, then call solved()
  };
  [[nodiscard]] Actions tick(Clock::time_point now, const ClusterView& view);
  // The result of a task; returns the placement to publish (nullopt: stale, discarded).
  [[nodiscard]] std::optional<PlacementValue> solved(const NodeStepResult& result);
  // An operator asked for an epoch: the next tick starts one whatever the interval.
  void force_epoch(std::string cause) { m_forced = std::move(cause); }
  void set_options(CoordinatorOptions options) { m_options = std::move(options); }

  [[nodiscard]] std::uint64_t epoch() const { return m_epoch; }
  [[nodiscard]] Phase phase() const { return m_phase; }
  [[nodiscard]] const std::string& cause() const { return m_cause; }
  [[nodiscard]] const std::string& digest() const { return m_digest; }
  [[nodiscard]] const std::vector<std::string>& order() const { return m_order; }
  [[nodiscard]] const std::optional<PlacementValue>& published() const { return m_published; }
  [[nodiscard]] double last_drift() const { return m_last_drift; }
  [[nodiscard]] std::uint64_t epochs_started() const { return m_started; }
  [[nodiscard]] std::uint64_t timeouts() const { return m_timeouts; }

 private:
  struct Basis {
    std::vector<std::pair<std::string, std::uint64_t>> servers;  // name, budget
    std::vector<solver::LayerStats> aggregate;
  };
  [[nodiscard]] Basis basis_of(const ClusterView& view) const;
  [[nodiscard]] std::optional<std::string> trigger(const ClusterView& view, const Basis& now_basis);
  void enter(std::uint64_t epoch, std::string cause, Clock::time_point now, Basis basis);
  [[nodiscard]] std::optional<NodeStepTask> make_task(Clock::time_point now, const ClusterView& view);

  CoordinatorOptions m_options;
  std::uint64_t m_epoch = 0;
  Phase m_phase = Phase::k_idle;
  std::string m_cause;
  std::string m_digest;
  std::vector<std::string> m_order;
  Clock::time_point m_epoch_start{};
  std::optional<Basis> m_basis;
  std::optional<PlacementValue> m_published;
  std::optional<std::string> m_forced;
  bool m_solve_in_flight = false;
  double m_last_drift = 0.0;
  std::uint64_t m_started = 0;
  std::uint64_t m_timeouts = 0;
};

}  // namespace slimcache::agent::placement
