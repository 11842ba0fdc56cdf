#include "agent/daemon/gossip_service.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "agent/cache/disk_tier.hpp"

namespace slimcache::agent {

using platform::LogLevel;

namespace {

std::string fingerprint(const gossip::Key& key) {
  const auto digest = cache::sha256_of(std::as_bytes(std::span(key)));
  return cache::to_hex(digest).substr(0, 16);
}

}  // namespace

gossip::GossipConfig gossip_config_for(const config::DaemonConfig& c) {
  const std::string address = c.network.bind_address.find(':') != std::string::npos
                                  ? "[" + c.network.bind_address + "]:" + std::to_string(c.network.gossip_port)
                                  : c.network.bind_address + ":" + std::to_string(c.network.gossip_port);
  gossip::GossipConfig g = c.gossip.profile == "wan"     ? gossip::GossipConfig::wan(c.node.name, address)
                           : c.gossip.profile == "local" ? gossip::GossipConfig::local(c.node.name, address)
                                                         : gossip::GossipConfig::lan(c.node.name, address);
  const auto& t = c.gossip.timing;
  g.label = c.cluster.label;
  g.probe_interval = t.probe_interval;
  g.probe_timeout = t.probe_timeout;
  g.indirect_checks = static_cast<int>(t.indirect_checks);
  g.gossip_interval = t.gossip_interval;
  g.gossip_nodes = static_cast<int>(t.gossip_fanout);
  g.retransmit_mult = static_cast<int>(t.retransmit_multiplier);
  g.suspicion_mult = static_cast<int>(t.suspicion_multiplier);
  g.suspicion_max_timeout_mult = static_cast<int>(t.suspicion_max_timeout_multiplier);
  g.awareness_max_multiplier = static_cast<int>(t.awareness_max_multiplier);
  g.push_pull_interval = t.push_pull_interval;
  g.gossip_to_the_dead = t.dead_node_grace;
  g.packet_size = c.gossip.max_packet_size;
  g.max_members = c.gossip.max_members;
  g.state_first_version = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
  return g;
}

GossipService::GossipService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                             metrics::Registry& metrics)
    : m_io(io), m_config(config), m_log(log), m_metrics(metrics), m_retry_timer(io) {}

GossipService::~GossipService() {
  m_retry_timer.cancel();
  if (m_agent) m_agent->stop();
}

void GossipService::arm_retry_join() {
  m_retry_timer.expires_after(std::chrono::seconds(1));
  m_retry_timer.async_wait([this](const asio::error_code& ec) {
    if (ec || !m_agent || !m_agent->running()) return;
    if (alive_members() >= 2) return;  // joined
    ++m_join_attempts;
    if (m_join_attempts % 30 == 0) {
      SLIM_LOG(m_log, LogLevel::k_warning) << "still alone after " << m_join_attempts << " join attempts; retrying";
    }
    m_agent->join(m_config.cluster.seeds);
    arm_retry_join();
  });
}

Expected<void, std::string> GossipService::start() {
  gossip::Keyring keyring;
  auto keys = gossip::keys_from_keyring_files(m_config.security.keyring_contents);
  if (!keys) return Unexpected("keyring: " + keys.error().context);
  for (const auto& key : *keys)
    if (auto ok = keyring.install(key); !ok) return Unexpected("keyring: " + ok.error().context);
  if (keyring.empty()) {
    SLIM_LOG(m_log, LogLevel::k_warning)
        << "no cluster key configured (security.keyring_files): gossip is NOT encrypted; fine on loopback only";
  }
  m_agent = std::make_unique<gossip::GossipAgent>(m_io, gossip_config_for(m_config), std::move(keyring));
  if (auto ok = m_agent->start(); !ok) return Unexpected("gossip: " + ok.error().context);
  m_agent->on_event([this](const gossip::Event& e) { on_event(e); });
  if (!m_config.cluster.seeds.empty()) {
    m_agent->join(m_config.cluster.seeds);
    arm_retry_join();
  }
  m_metrics.gauge_callback("slimcache_gossip_members", "Members alive or suspect, this node included",
                           [this] { return static_cast<double>(alive_members()); });
  auto counter = [this](const char* name, const char* help, auto field) {
    m_metrics.gauge_callback(name, help, [this, field] {
      return m_agent && m_agent->running() ? static_cast<double>(m_agent->counters().*field) : 0.0;
    });
  };
  counter("slimcache_gossip_packets_sent", "Gossip datagrams sent", &gossip::Counters::packets_sent);
  counter("slimcache_gossip_packets_received", "Gossip datagrams received", &gossip::Counters::packets_received);
  counter("slimcache_gossip_bytes_sent", "Gossip bytes sent", &gossip::Counters::bytes_sent);
  counter("slimcache_gossip_messages_received", "Gossip messages received", &gossip::Counters::messages_received);
  counter("slimcache_gossip_probe_failures", "Probes that ended in a suspicion", &gossip::Counters::probe_failures);
  counter("slimcache_gossip_members_refused", "New members refused because the member table was full (gossip.max_members)",
          &gossip::Counters::members_refused);
  SLIM_LOG(m_log, LogLevel::k_notice) << "gossip on " << m_agent->address() << " (" << m_config.gossip.profile
                                      << " profile), " << m_config.cluster.seeds.size() << " seed(s)";
  return {};
}

void GossipService::on_event(const gossip::Event& e) {
  if (e.kind == gossip::EventKind::state_change) return;  // frequent; read through peer_state
  if (e.kind == gossip::EventKind::member_refused) {  // at most one per GossipNode::k_refusal_report_interval
    SLIM_LOG(m_log, LogLevel::k_warning) << "member table full (gossip.max_members = " << m_config.gossip.max_members
                                         << "): refused " << e.version << " new member(s), latest " << e.node
                                         << "; known members are unaffected";
    return;
  }
  const auto level = e.kind == gossip::EventKind::member_dead ? LogLevel::k_warning : LogLevel::k_notice;
  SLIM_LOG(m_log, level) << "member " << e.node << ": " << gossip::to_string(e.kind);
  m_metrics.counter("slimcache_gossip_member_events_total", "Membership events by kind",
                    {{"kind", gossip::to_string(e.kind)}})
      .inc();
}

void GossipService::leave(std::function<void()> done) {
  m_retry_timer.cancel();
  if (!m_agent || !m_agent->running()) {
    if (done) done();
    return;
  }
  m_agent->leave(3 * m_config.gossip.timing.gossip_interval, std::move(done));
}

void GossipService::publish(const std::string& key, const std::string& value) {
  if (!m_agent || !m_agent->running()) return;
  const auto* p = reinterpret_cast<const std::uint8_t*>(value.data());
  if (auto ok = m_agent->set_state(key, {p, value.size()}); !ok) {
    SLIM_LOG(m_log, LogLevel::k_warning) << "gossip state " << key << ": " << ok.error().context;
  }
}

std::size_t GossipService::alive_members() const {
  if (!m_agent || !m_agent->running()) return 0;
  std::size_t n = 0;
  for (const auto& m : m_agent->members())
    n += m.state == gossip::MemberState::alive || m.state == gossip::MemberState::suspect;
  return n;
}

std::vector<gossip::MemberInfo> GossipService::live_members() const {
  std::vector<gossip::MemberInfo> out;
  if (!m_agent || !m_agent->running()) return out;
  for (auto& m : m_agent->members())
    if (m.state == gossip::MemberState::alive || m.state == gossip::MemberState::suspect) out.push_back(std::move(m));
  return out;
}

std::optional<std::string> GossipService::peer_value(const std::string& node, const std::string& key) const {
  if (!m_agent || !m_agent->running()) return std::nullopt;
  auto bytes = m_agent->peer_state(node, key);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

std::string GossipService::address() const { return m_agent ? m_agent->address() : std::string(); }

nlohmann::json GossipService::members_json() const {
  nlohmann::json out = nlohmann::json::array();
  if (!m_agent || !m_agent->running()) return out;
  for (const auto& m : m_agent->members()) {
    nlohmann::json j{{"name", m.name}, {"address", m.address}, {"state", gossip::to_string(m.state)},
                     {"incarnation", m.incarnation}};
    if (auto rtt = m_agent->rtt(m.name)) j["rtt_ms"] = std::chrono::duration<double, std::milli>(rtt->srtt).count();
    if (auto budgets = m_agent->peer_state(m.name, "budgets"))
      j["budgets"] = nlohmann::json::parse(std::string(budgets->begin(), budgets->end()), nullptr, false);
    out.push_back(std::move(j));
  }
  return out;
}

void GossipService::register_commands(admin::AdminServer& admin) {
  using admin::ErrorCode;
  admin.add_command("members", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    reply.result({{"members", members_json()}, {"address", address()}});
  });
  admin.add_command("keys.list", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    nlohmann::json keys = nlohmann::json::array();
    const auto primary = m_agent->keyring().primary();
    for (const auto& k : m_agent->keyring().keys())
      keys.push_back({{"fingerprint", fingerprint(k)}, {"primary", primary && *primary == k}});
    reply.result({{"keys", keys}});
  });
  auto key_op = [this](const std::string& op) {
    return [this, op](const admin::Request& request, const admin::PeerCredentials&, admin::Reply reply) {
      if (!request.args.contains("key") || !request.args["key"].is_string())
        return reply.fail(ErrorCode::k_bad_arguments, "give \"key\": a base64 AES-256 key");
      auto key = gossip::key_from_base64(request.args["key"].get<std::string>());
      if (!key) return reply.fail(ErrorCode::k_bad_arguments, key.error().context);
      auto& ring = m_agent->keyring();
      auto ok = op == "install" ? ring.install(*key) : op == "use" ? ring.use(*key) : ring.remove(*key);
      if (!ok) return reply.fail(ErrorCode::k_failed, ok.error().context);
      SLIM_LOG(m_log, LogLevel::k_notice) << "keyring: " << op << " " << fingerprint(*key);
      reply.result({{"fingerprint", fingerprint(*key)}, {"done", op}});
    };
  };
  admin.add_command("keys.install", key_op("install"));
  admin.add_command("keys.use", key_op("use"));
  admin.add_command("keys.remove", key_op("remove"));
}

}  // namespace slimcache::agent
