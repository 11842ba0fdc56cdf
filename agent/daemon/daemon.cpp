#include "agent/daemon/daemon.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "agent/version.hpp"

namespace slimcache::agent {

using platform::LogLevel;

namespace {

std::optional<gid_t> lookup_group(const std::string& name, std::string& error) {
  if (name.empty()) return std::nullopt;
  std::vector<char> buf(16384);
  group gr{};
  group* result = nullptr;
  if (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
    error = "admin group '" + name + "' does not exist";
    return std::nullopt;
  }
  return gr.gr_gid;
}

}  // namespace

Daemon::Daemon(asio::io_context& io, config::DaemonConfig config, config::LoadOptions load_options, Deps deps)
    : m_io(io),
      m_config(std::move(config)),
      m_load_options(std::move(load_options)),
      m_deps(deps),
      m_signals(io),
      m_watchdog(io) {}

Daemon::~Daemon() {
  if (m_admin) m_admin->stop();
  if (m_metrics_http) m_metrics_http->stop();
}

Expected<void, std::string> Daemon::prepare_state_dir() const {
  std::error_code ec;
  for (const auto& dir : {m_config.node.state_dir, m_config.node.data_dir}) {
    if (dir.empty()) continue;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Unexpected("cannot create " + dir + ": " + ec.message());
    if (::access(dir.c_str(), W_OK) != 0) return Unexpected(dir + " is not writable: " + std::strerror(errno));
  }
  const auto socket_dir = std::filesystem::path(m_config.admin.socket_path).parent_path();
  if (!socket_dir.empty()) {
    std::filesystem::create_directories(socket_dir, ec);
    if (ec) return Unexpected("cannot create " + socket_dir.string() + ": " + ec.message());
  }
  return {};
}

Expected<void, std::string> Daemon::start() {
  m_started_at = m_deps.clock.now();
  m_deps.log.set_level(platform::parse_log_level(m_config.logging.level).value_or(LogLevel::k_info));
  if (auto ok = prepare_state_dir(); !ok) return ok;

  std::string group_error;
  const auto gid = lookup_group(m_config.admin.group, group_error);
  if (!group_error.empty()) return Unexpected(group_error);
  admin::AdminServer::Options admin_options;
  admin_options.path = m_config.admin.socket_path;
  admin_options.mode = m_config.admin.mode;
  admin_options.group = gid;
  const admin::AccessPolicy policy{::geteuid(), gid ? gid : std::optional<gid_t>(::getegid())};
  m_admin = std::make_unique<admin::AdminServer>(m_io, admin_options, policy);
  register_admin_commands();
  m_cache = std::make_unique<CacheService>(m_io, m_config, m_deps.log, m_deps.clock, m_metrics);
  if (auto ok = m_cache->start(); !ok) return Unexpected(ok.error());
  m_cache->register_commands(*m_admin);
  m_gossip = std::make_unique<GossipService>(m_io, m_config, m_deps.log, m_metrics);
  if (auto ok = m_gossip->start(); !ok) {
    m_admin->stop();
    return Unexpected(ok.error());
  }
  m_gossip->register_commands(*m_admin);
  m_gossip->publish("budgets", nlohmann::json{{"disk_bytes", m_config.budgets.disk},
                                              {"memory_bytes", m_config.budgets.memory}}.dump());
  if (const auto manifest = m_cache->manifest()) m_gossip->publish("model", model::manifest_to_json(*manifest));
  m_transfer = std::make_unique<TransferService>(m_io, m_config, m_deps.log, m_deps.clock, m_metrics, *m_cache);
  if (auto ok = m_transfer->start(); !ok) {
    m_admin->stop();
    return Unexpected("transfers: " + ok.error());
  }
  m_transfer->register_commands(*m_admin);
  m_placement = std::make_unique<PlacementService>(m_io, m_config, m_deps.log, m_metrics, *m_cache, *m_gossip);
  m_placement->register_commands(*m_admin);
  PlacementService::Fetcher fetcher;
  if (m_transfer->enabled()) {
    fetcher = [this](std::uint32_t layer, std::uint32_t expert, std::vector<PlacementService::PeerEndpoint> holders,
                     PlacementService::FetchDone done) {
      std::vector<PeerEndpoint> peers;
      for (auto& h : holders) peers.push_back({std::move(h.node), std::move(h.host), h.port});
      m_transfer->fetch({layer, expert}, std::move(peers), std::move(done));
    };
  }
  m_exec = std::make_unique<ExecService>(m_config, m_deps.log, m_deps.clock, *m_cache);
  if (auto ok = m_exec->start(); !ok) {
    m_admin->stop();
    return Unexpected(ok.error());
  }
  m_exec->register_commands(*m_admin);
  m_placement->start(std::move(fetcher), {m_transfer->port(), m_exec->tcp_port() != 0 ? m_exec->tcp_port()
                                                                                     : m_config.network.execution_port});
  if (auto ok = m_admin->start(); !ok) return Unexpected("admin socket: " + ok.error().message);

  if (m_config.metrics.enabled) {
    m_metrics_http = std::make_unique<metrics::MetricsHttpServer>(
        m_io, m_metrics, metrics::MetricsHttpServer::Options{m_config.metrics.address, m_config.metrics.port});
    if (auto ok = m_metrics_http->start(); !ok) {
      m_admin->stop();
      return Unexpected(ok.error());
    }
  }
  m_metrics.gauge_callback("slimcache_uptime_seconds", "Seconds since the daemon started", [this] {
    return std::chrono::duration<double>(m_deps.clock.now() - m_started_at).count();
  });
  m_metrics.gauge_callback("slimcache_admin_connections", "Open admin socket connections",
                           [this] { return static_cast<double>(m_admin ? m_admin->open_connections() : 0); });

  arm_signals();
  if (const auto interval = platform::watchdog_interval()) arm_watchdog(*interval);

  SLIM_LOG(m_deps.log, LogLevel::k_notice)
      << "slimcached " << k_version << " serving as '" << m_config.node.name << "', admin socket "
      << m_config.admin.socket_path << (m_config.metrics.enabled ? ", metrics on " + m_config.metrics.address + ":" +
                                                                        std::to_string(m_config.metrics.port)
                                                                  : std::string());
  if (auto sent = m_deps.notifier.ready(status_line()); !sent) {
    SLIM_LOG(m_deps.log, LogLevel::k_warning) << "sd_notify: " << sent.error().message;
  }
  return {};
}

void Daemon::arm_signals() {
  m_signals.add(SIGTERM);
  m_signals.add(SIGINT);
  m_signals.add(SIGHUP);
  wait_signal();
}

void Daemon::wait_signal() {
  m_signals.async_wait([this](const asio::error_code& ec, int signo) {
    if (ec) return;  // cancelled by shutdown()
    if (signo == SIGHUP) {
      (void)reload();
      wait_signal();
      return;
    }
    shutdown(std::string("signal ") + ::strsignal(signo));
  });
}

void Daemon::arm_watchdog(std::chrono::microseconds interval) {
  m_watchdog.expires_after(interval / 2);
  m_watchdog.async_wait([this, interval](const asio::error_code& ec) {
    if (ec || m_stopping) return;
    (void)m_deps.notifier.watchdog();
    arm_watchdog(interval);
  });
}

void Daemon::shutdown(const std::string& why) {
  if (m_stopping) return;
  m_stopping = true;
  SLIM_LOG(m_deps.log, LogLevel::k_notice) << "stopping (" << why << ")";
  (void)m_deps.notifier.stopping("stopping: " + why);
  asio::error_code ignored;
  m_signals.cancel(ignored);
  m_watchdog.cancel();
  if (m_metrics_http) m_metrics_http->stop();
  if (m_admin) m_admin->stop();
  if (m_exec) m_exec->stop();
  if (m_placement) m_placement->stop();
  if (m_transfer) m_transfer->stop();
  if (m_cache) m_cache->stop();
  // The leave is gossiped for a few intervals; then the sockets close and io.run() returns.
  if (m_gossip) m_gossip->leave([this] { SLIM_LOG(m_deps.log, LogLevel::k_info) << "left the cluster"; });
}

void Daemon::apply_live(const config::DaemonConfig& next) {
  m_config = config::apply_live(m_config, next);
  m_deps.log.set_level(platform::parse_log_level(m_config.logging.level).value_or(LogLevel::k_info));
  if (m_placement) m_placement->reconfigure(m_config);
}

nlohmann::json Daemon::reload() {
  (void)m_deps.notifier.reloading();
  ++m_reloads;
  const auto candidate = config::load_daemon_config(m_load_options);
  const auto plan = config::plan_reload(m_config, candidate);
  nlohmann::json out{{"accepted", plan.accepted}};
  auto changes = [](const std::vector<config::ConfigChange>& list) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& c : list) a.push_back({{"key", c.key}, {"old", c.old_value}, {"new", c.new_value}});
    return a;
  };
  if (!plan.accepted) {
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : plan.errors) {
      errors.push_back(e.to_string());
      SLIM_LOG(m_deps.log, LogLevel::k_error) << "reload rejected: " << e.to_string();
    }
    out["errors"] = errors;
    SLIM_LOG(m_deps.log, LogLevel::k_warning) << "keeping the running configuration";
  } else {
    apply_live(*candidate);
    out["live"] = changes(plan.live);
    out["restart"] = changes(plan.restart);
    for (const auto& c : plan.live) {
      SLIM_LOG(m_deps.log, LogLevel::k_notice) << "reload: " << c.key << " = " << c.new_value;
    }
    for (const auto& c : plan.restart) {
      SLIM_LOG(m_deps.log, LogLevel::k_warning) << "reload: " << c.key << " changes only after a restart";
    }
  }
  m_metrics.counter("slimcache_config_reloads_total", "Configuration reloads by outcome",
                    {{"outcome", plan.accepted ? "applied" : "rejected"}})
      .inc();
  (void)m_deps.notifier.ready(status_line());
  return out;
}

std::string Daemon::status_line() const {
  return "node " + m_config.node.name + ", " + std::to_string(m_gossip ? m_gossip->alive_members() : 0) +
         " member(s), admin " + m_config.admin.socket_path + (m_stopping ? ", stopping" : ", serving");
}

nlohmann::json Daemon::status() const {
  const double uptime = std::chrono::duration<double>(m_deps.clock.now() - m_started_at).count();
  return {{"version", std::string(k_version)},
          {"node", m_config.node.name},
          {"pid", ::getpid()},
          {"uptime_s", uptime},
          {"state_dir", m_config.node.state_dir},
          {"data_dir", m_config.node.data_dir},
          {"admin_socket", m_config.admin.socket_path},
          {"metrics", m_config.metrics.enabled ? m_config.metrics.address + ":" + std::to_string(m_config.metrics.port)
                                               : std::string("off")},
          {"config_files", m_config.source_files},
          {"reloads", m_reloads},
          {"budgets", {{"disk_bytes", m_config.budgets.disk}, {"memory_bytes", m_config.budgets.memory}}},
          {"state", m_stopping ? "stopping" : "serving"},
          {"cache", m_cache ? m_cache->status() : nlohmann::json(nullptr)},
          {"placement", m_placement ? m_placement->status() : nlohmann::json(nullptr)},
          {"transfers", m_transfer ? m_transfer->status() : nlohmann::json(nullptr)},
          {"exec", m_exec ? m_exec->status() : nlohmann::json(nullptr)},
          {"gossip", m_gossip ? m_gossip->address() : std::string()},
          {"members", m_gossip ? m_gossip->alive_members() : 0}};
}

void Daemon::register_admin_commands() {
  using admin::Reply;
  using admin::Request;
  using admin::PeerCredentials;
  m_admin->add_command("status", [this](const Request&, const PeerCredentials&, Reply reply) { reply.result(status()); });
  m_admin->add_command("config", [this](const Request&, const PeerCredentials&, Reply reply) {
    reply.result(nlohmann::json::parse(config::format_config(m_config, config::Format::k_json), nullptr, false));
  });
  m_admin->add_command("reload", [this](const Request&, const PeerCredentials&, Reply reply) { reply.result(reload()); });
  m_admin->add_command("stats", [this](const Request&, const PeerCredentials&, Reply reply) {
    reply.result({{"prometheus", m_metrics.expose()}});
  });
}

}  // namespace slimcache::agent
