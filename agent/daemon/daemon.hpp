#pragma once
// slimcached: one process, one io_context, the subsystems wired together.
//
// Lifecycle: start() brings up the state directory, the admin socket, metrics (when
// enabled) and the cluster subsystems, then sends READY=1 with a STATUS= line: only once
// the daemon really serves. SIGTERM/SIGINT lead to shutdown(): STOPPING=1, a graceful
// leave, sockets closed, io_context allowed to run out. SIGHUP leads to reload(): the
// configuration is read again; a bad one is rejected (logged, the running one kept), a
// good one is applied where it can be live and the rest is reported as needing a restart.
// WATCHDOG=1 is sent from the io_context at half of $WATCHDOG_USEC, so a wedged loop
// gets the daemon restarted.
//
// Threads: everything runs on the io_context given to the constructor.
#include <asio.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/admin/admin_server.hpp"
#include "agent/daemon/cache_service.hpp"
#include "agent/daemon/exec_service.hpp"
#include "agent/daemon/gossip_service.hpp"
#include "agent/daemon/placement_service.hpp"
#include "agent/daemon/transfer_service.hpp"
#include "agent/metrics/metrics_http.hpp"
#include "agent/metrics/metrics_registry.hpp"
#include "config/daemon_config.hpp"
#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "platform/systemd_notify.hpp"

namespace slimcache::agent {

class Daemon {
 public:
  struct Deps {
    platform::SystemdNotifier& notifier;
    platform::Logger& log;
    const platform::Clock& clock;
  };

  Daemon(asio::io_context& io, config::DaemonConfig config, config::LoadOptions load_options, Deps deps);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Brings everything up and sends READY=1. On failure nothing is left listening.
  [[nodiscard]] Expected<void, std::string> start();
  // Graceful stop: STOPPING=1, leave, close. Idempotent. io.run() returns afterwards.
  void shutdown(const std::string& why);
  // Re-reads the configuration (SIGHUP, or `slimctl reload`). Returns the plan as JSON.
  nlohmann::json reload();

  [[nodiscard]] nlohmann::json status() const;
  [[nodiscard]] std::string status_line() const;
  [[nodiscard]] const config::DaemonConfig& config() const { return m_config; }
  [[nodiscard]] metrics::Registry& metrics() { return m_metrics; }
  [[nodiscard]] bool stopping() const { return m_stopping; }

 private:
  void register_admin_commands();
  void arm_signals();
  void wait_signal();
  void arm_watchdog(std::chrono::microseconds interval);
  void apply_live(const config::DaemonConfig& next);
  [[nodiscard]] Expected<void, std::string> prepare_state_dir() const;

  asio::io_context& m_io;
  config::DaemonConfig m_config;
  config::LoadOptions m_load_options;
  Deps m_deps;
  metrics::Registry m_metrics;
  std::unique_ptr<admin::AdminServer> m_admin;
  std::unique_ptr<metrics::MetricsHttpServer> m_metrics_http;
  std::unique_ptr<CacheService> m_cache;
  std::unique_ptr<GossipService> m_gossip;
  std::unique_ptr<TransferService> m_transfer;
  std::unique_ptr<PlacementService> m_placement;
  std::unique_ptr<ExecService> m_exec;
  asio::signal_set m_signals;
  asio::steady_timer m_watchdog;
  platform::TimePoint m_started_at{};
  std::uint64_t m_reloads = 0;
  bool m_stopping = false;
};

}  // namespace slimcache::agent
