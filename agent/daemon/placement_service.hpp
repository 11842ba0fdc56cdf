#pragma once
// The daemon's decentralised placement (MODEL.md 3.5): gossip in, experts moved out.
//
// Every tick (250 ms) it reads what gossip says into a placement::ClusterView (values are
// decoded again only when their bytes change), feeds the Coordinator (agent/placement/
// coordinator.hpp: epochs, node order, timeouts, hysteresis, digest), runs the node steps
// it hands out on a worker thread (never on the io_context), and publishes this node's
// values: its engine statistics (when they drift or every stats_interval), the epoch, its
// placement, and its holdings (the experts verified on its disk, its transfer and
// execution ports, whether it is the origin).
//
// Moving experts, make-before-break: an expert of this node's placement that it does not
// hold is fetched from a node that holds it (others before the origin, spread by a hash).
// An expert it holds but no longer places is dropped once another live node that places it
// in the current epoch holds it, or, if no server places it, once a holder ranking before
// this node (the origin first, then by name) holds it. The origin keeps the whole model it
// imported (re-fetching any expert its disk lost): it seeds every copy and is the holder of
// last resort, so every expert always has a holder while the origin lives; its disk budget
// bounds what it places, not what it seeds. A node without a model adopts the one its peers
// publish, so it can receive experts. Placements use each node's disk budget less two
// experts, the room to fetch before dropping.
//
// Directory: the engine segment's holder table (slimcache/client.h: slimcache_locate) is
// rewritten when holdings change: local disk, or the peers holding it with their
// execution addresses.
// Admin: placement (per node, per expert with its gain), placement.epoch (force one).
// Threads: the daemon's io_context, plus one solver thread per node step in flight.
#include <asio.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "agent/admin/admin_server.hpp"
#include "agent/daemon/cache_service.hpp"
#include "agent/daemon/gossip_service.hpp"
#include "agent/metrics/metrics_registry.hpp"
#include "agent/placement/coordinator.hpp"
#include "config/daemon_config.hpp"
#include "platform/log.hpp"

namespace slimcache::agent {

class PlacementService {
 public:
  struct PeerEndpoint {
    std::string node, host;
    std::uint16_t port = 0;
  };
  using FetchDone = std::function<void(Expected<void, std::string>)>;
  // Fetches one expert from the first holder that serves it (the TransferService).
  using Fetcher = std::function<void(std::uint32_t layer, std::uint32_t expert, std::vector<PeerEndpoint> holders,
                                     FetchDone done)>;
  struct Ports {
    std::uint16_t transfer = 0;  // 0: this node cannot serve transfers
    std::uint16_t execution = 0;
  };

  PlacementService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                   metrics::Registry& metrics, CacheService& cache, GossipService& gossip);
  ~PlacementService();
  PlacementService(const PlacementService&) = delete;
  PlacementService& operator=(const PlacementService&) = delete;

  void start(Fetcher fetcher, Ports ports);
  void stop();  // joins the solver thread; idempotent
  void reconfigure(const config::DaemonConfig& config);  // live keys of [placement]
  void register_commands(admin::AdminServer& admin);
  [[nodiscard]] nlohmann::json status() const;

 private:
  struct Decoded {  // a member's gossip values, decoded once per change of their bytes
    std::map<std::string, std::uint64_t> hashes;
    bool same_model = false;
    placement::MemberView view;
  };
  void arm_tick();
  void tick();
  [[nodiscard]] std::optional<placement::ClusterView> build_view();
  void maybe_adopt_model();
  void publish_stats();
  void publish_holdings();
  void move_experts(const placement::ClusterView& view);
  void update_directory(const placement::ClusterView& view);
  void launch(placement::NodeStepTask task);
  void on_solved(const placement::NodeStepResult& result);
  void publish_value(std::string_view key, const std::string& value);
  [[nodiscard]] nlohmann::json placement_json(const nlohmann::json& args);
  [[nodiscard]] placement::CoordinatorOptions coordinator_options(const config::DaemonConfig& config) const;

  asio::io_context& m_io;
  const config::DaemonConfig& m_config;
  platform::Logger& m_log;
  metrics::Registry& m_metrics;
  CacheService& m_cache;
  GossipService& m_gossip;
  Fetcher m_fetcher;
  Ports m_ports;
  placement::Coordinator m_coordinator;
  asio::steady_timer m_timer;
  std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
  std::thread m_solver;
  std::map<std::string, Decoded> m_decoded;
  std::map<std::string, std::string> m_hosts;  // live member -> IP of its gossip address (build_view)
  std::map<std::string, std::string> m_own;  // this node's published values
  std::optional<placement::ClusterView> m_last_view;
  std::set<std::uint32_t> m_fetching;
  std::vector<std::uint32_t> m_held;
  std::vector<std::uint32_t> m_wanted;  // the placement, plus (origin) what no server places
  std::string m_holdings_value;
  std::uint64_t m_directory_hash = 0;
  std::vector<solver::LayerStats> m_stats_published;
  double m_rate_published = 0.0;
  std::chrono::steady_clock::time_point m_stats_at{};
  std::uint64_t m_fetched = 0, m_fetch_failures = 0, m_dropped = 0, m_epochs_seen = 0;
  double m_last_solve_ms = 0.0;
  bool m_stopped = false;
};

}  // namespace slimcache::agent
