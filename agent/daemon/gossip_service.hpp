#pragma once
// The daemon's membership and state dissemination: a GossipAgent (agent/gossip) configured
// from the daemon config, joined to the configured seeds, publishing this node's state
// (budgets, model), retrying the join until a peer answers, and serving the admin commands members and keys.list|install|use|remove.
//
// Shutdown is a graceful leave: the leave is gossiped for a few gossip intervals, then the
// sockets close and `done` runs. Keys installed at run time live until the next restart;
// the keyring files of the configuration are the durable source (rotate them there too).
// Threads: the daemon's io_context only.
#include <asio.hpp>
#include <functional>
#include <memory>

#include "agent/admin/admin_server.hpp"
#include "agent/gossip/gossip_agent.hpp"
#include "agent/metrics/metrics_registry.hpp"
#include "config/daemon_config.hpp"
#include "platform/log.hpp"

namespace slimcache::agent {

class GossipService {
 public:
  GossipService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                metrics::Registry& metrics);
  ~GossipService();
  GossipService(const GossipService&) = delete;
  GossipService& operator=(const GossipService&) = delete;

  [[nodiscard]] Expected<void, std::string> start();
  void leave(std::function<void()> done);
  void register_commands(admin::AdminServer& admin);
  // Publishes a value of this node's state (e.g. "budgets", "model").
  void publish(const std::string& key, const std::string& value);

  [[nodiscard]] nlohmann::json members_json() const;
  [[nodiscard]] std::size_t alive_members() const;
  [[nodiscard]] std::string address() const;
  // Members alive or suspected (this node included), sorted by name, with their gossip
  // address ("ip:port"); what `node` published under `key` (this node's own values too).
  [[nodiscard]] std::vector<gossip::MemberInfo> live_members() const;
  [[nodiscard]] std::optional<std::string> peer_value(const std::string& node, const std::string& key) const;
  [[nodiscard]] const std::string& node_name() const { return m_config.node.name; }

 private:
  void on_event(const gossip::Event& event);
  // Retries the join every second while this node sees no other member (the seeds may
  // start later than we do), like Serf's retry_join.
  void arm_retry_join();

  asio::io_context& m_io;
  const config::DaemonConfig& m_config;
  platform::Logger& m_log;
  metrics::Registry& m_metrics;
  std::unique_ptr<gossip::GossipAgent> m_agent;
  asio::steady_timer m_retry_timer;
  std::uint64_t m_join_attempts = 0;
};

// The gossip configuration a daemon config describes (exposed for tests).
[[nodiscard]] gossip::GossipConfig gossip_config_for(const config::DaemonConfig& config);

}  // namespace slimcache::agent
