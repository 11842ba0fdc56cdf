#pragma once
// The daemon's expert execution service (agent/exec/exec_server.hpp) wired to its cache.
//
//   - Unix socket `exec.sock` beside the admin socket, for local engines
//     (slimcache_moe_forward); same mode and peer-credential policy as the admin socket.
//   - TLS-PSK TCP listener on network.bind_address:network.execution_port for peers, with
//     the PSK derived (agent/exec/exec_key.hpp, info "slimcache exec v1") from the same
//     secret as transfers: security.tls_psk_file if set, else the primary cluster key.
//     Without either there is no TCP listener and no forwarding: experts only run here.
// Weights come from the memory tier (zero-copy pins); a miss is loaded from the disk tier
// through the admin socket's cache.pin (then cache.unpin once the service holds its own pin),
// so every CacheManager call stays on the cache service's strand.
// Admin command: exec (listeners and counters).
// Threads: start()/stop() from the daemon's io_context; the server runs its own threads.
#include <memory>
#include <string>

#include "agent/admin/admin_server.hpp"
#include "agent/exec/exec_server.hpp"
#include "agent/exec/tier_expert_source.hpp"
#include "config/daemon_config.hpp"
#include "platform/clock.hpp"
#include "platform/log.hpp"

namespace slimcache::agent {

class CacheService;

class ExecService {
 public:
  ExecService(const config::DaemonConfig& config, platform::Logger& log, const platform::Clock& clock,
              const CacheService& cache);
  ~ExecService();
  ExecService(const ExecService&) = delete;
  ExecService& operator=(const ExecService&) = delete;

  [[nodiscard]] Expected<void, std::string> start();
  void stop();
  void register_commands(admin::AdminServer& admin);

  // <admin socket directory>/exec.sock
  [[nodiscard]] static std::string socket_path_for(const config::DaemonConfig& config);
  [[nodiscard]] nlohmann::json status() const;
  // The TCP port listened on (the configured one, or the one picked for port 0); 0 without TLS.
  [[nodiscard]] std::uint16_t tcp_port() const;

 private:
  const config::DaemonConfig& m_config;
  platform::Logger& m_log;
  const platform::Clock& m_clock;
  const CacheService& m_cache;
  std::string m_socket_path;
  std::string m_tcp_address;  // "" without a cluster key
  std::unique_ptr<exec::TierExpertSource> m_source;
  std::unique_ptr<exec::ExecServer> m_server;
};

}  // namespace slimcache::agent
