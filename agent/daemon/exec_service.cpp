#include "agent/daemon/exec_service.hpp"

#include <grp.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include "agent/admin/admin_client.hpp"
#include "agent/daemon/cache_service.hpp"
#include "agent/exec/exec_key.hpp"
#include "agent/gossip/keyring.hpp"

namespace slimcache::agent {

using platform::LogLevel;

namespace {

// The execution secret, as for transfers: security.tls_psk_file when set, else the primary
// cluster key (the first key line of the first keyring file).
std::optional<gossip::Key> primary_cluster_key(const config::DaemonConfig& config) {
  if (!config.security.tls_psk.empty()) {
    const auto& text = config.security.tls_psk;
    const auto first = text.find_first_not_of(" \t\r\n");
    const auto last = text.find_last_not_of(" \t\r\n");
    if (first == std::string::npos) return std::nullopt;
    auto key = gossip::key_from_base64(text.substr(first, last - first + 1));
    if (key) return *key;
    return std::nullopt;
  }
  auto keys = gossip::keys_from_keyring_files(config.security.keyring_contents);
  if (!keys || keys->empty()) return std::nullopt;
  return keys->front();
}

// The admin socket's policy: the daemon's uid, root, and the admin group (admin.group, else
// the daemon's primary group).
admin::AccessPolicy access_policy(const config::DaemonConfig& config) {
  gid_t gid = ::getegid();
  if (!config.admin.group.empty()) {
    std::vector<char> buf(16384);
    group gr{};
    group* result = nullptr;
    if (::getgrnam_r(config.admin.group.c_str(), &gr, buf.data(), buf.size(), &result) == 0 && result != nullptr)
      gid = gr.gr_gid;
  }
  return admin::AccessPolicy{::geteuid(), gid};
}

}  // namespace

ExecService::ExecService(const config::DaemonConfig& config, platform::Logger& log, const platform::Clock& clock,
                         const CacheService& cache)
    : m_config(config), m_log(log), m_clock(clock), m_cache(cache) {}

ExecService::~ExecService() { stop(); }

std::string ExecService::socket_path_for(const config::DaemonConfig& config) {
  return (std::filesystem::path(config.admin.socket_path).parent_path() / "exec.sock").string();
}

Expected<void, std::string> ExecService::start() {
  m_socket_path = socket_path_for(m_config);
  const admin::ClientOptions admin_socket{m_config.admin.socket_path, std::chrono::seconds(30)};
  auto load = [admin_socket](std::uint32_t layer, std::uint32_t expert) -> Expected<void, exec::SourceError> {
    auto pinned = admin::call(admin_socket, "cache.pin", {{"layer", layer}, {"expert", expert}});
    if (!pinned) {
      const bool missing = pinned.error().message.find("not") != std::string::npos;
      return Unexpected(exec::SourceError{missing ? exec::ExpertStatus::k_not_found : exec::ExpertStatus::k_failed,
                                          pinned.error().message});
    }
    return {};
  };
  auto unload = [admin_socket](std::uint32_t layer, std::uint32_t expert) {
    (void)admin::call(admin_socket, "cache.unpin", {{"layer", layer}, {"expert", expert}});
  };
  const auto lease = std::chrono::duration_cast<std::chrono::seconds>(m_config.cache.pin_lease);
  m_source = std::make_unique<exec::TierExpertSource>(m_cache.shm_name(), m_clock,
                                                      std::max(lease, std::chrono::seconds(3)), load, unload);

  exec::ExecServerOptions options;
  options.unix_path = m_socket_path;
  options.unix_mode = m_config.admin.mode;
  options.unix_policy = access_policy(m_config);
  options.kernel_threads = 1;
  if (const auto key = primary_cluster_key(m_config)) {
    auto psk = exec::derive_exec_psk(*key, m_config.cluster.label);
    if (!psk) return Unexpected("execution PSK: " + psk.error().message);
    transfer::TlsSettings server{transfer::TlsRole::k_server, *psk, std::nullopt, transfer::AesPolicy::k_detect};
    transfer::TlsSettings client{transfer::TlsRole::k_client, *psk, std::nullopt, transfer::AesPolicy::k_detect};
    auto server_context = transfer::TlsContext::create(server);
    auto client_context = transfer::TlsContext::create(client);
    if (!server_context || !client_context) return Unexpected(std::string("execution TLS context failed"));
    options.tls_server = *server_context;
    options.tls_client = *client_context;
    options.tcp_bind = m_config.network.bind_address;
    options.tcp_port = m_config.network.execution_port;
    const std::string advertised =
        m_config.network.advertise_address.empty() ? m_config.network.bind_address : m_config.network.advertise_address;
    m_tcp_address = advertised + ":" + std::to_string(m_config.network.execution_port);
    options.self_address = m_tcp_address;
  } else {
    SLIM_LOG(m_log, LogLevel::k_warning)
        << "no cluster key: expert execution is local only (no listener on the execution port, no forwarding)";
  }
  auto server = exec::ExecServer::start(*m_source, options);
  if (!server) return Unexpected("expert execution: " + server.error().message);
  m_server = std::move(server).value();
  if (!m_tcp_address.empty()) {  // port 0 in the config: the port the listener got
    m_tcp_address = m_tcp_address.substr(0, m_tcp_address.rfind(':') + 1) + std::to_string(m_server->tcp_port());
  }
  SLIM_LOG(m_log, LogLevel::k_info) << "expert execution on " << m_socket_path
                                    << (m_tcp_address.empty() ? std::string() : " and " + m_tcp_address + " (TLS)");
  return {};
}

std::uint16_t ExecService::tcp_port() const { return m_server ? m_server->tcp_port() : 0; }

void ExecService::stop() {
  if (m_server) m_server->stop();
}

nlohmann::json ExecService::status() const {
  nlohmann::json out{{"socket", m_socket_path}, {"address", m_tcp_address}};
  if (m_server) {
    const auto s = m_server->stats();
    out["connections"] = s.connections;
    out["refused"] = s.refused;
    out["requests"] = s.requests;
    out["bad_requests"] = s.bad_requests;
    out["experts_run"] = s.experts_run;
    out["experts_forwarded"] = s.experts_forwarded;
    out["forward_failures"] = s.forward_failures;
    out["fallbacks"] = s.fallbacks;
  }
  return out;
}

void ExecService::register_commands(admin::AdminServer& admin) {
  admin.add_command("exec", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    reply.result(status());
  });
}

}  // namespace slimcache::agent
