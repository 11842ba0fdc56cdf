#include "agent/daemon/transfer_service.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "agent/gossip/keyring.hpp"
#include "agent/transfer/transfer_key.hpp"

namespace slimcache::agent {

using platform::LogLevel;

namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

constexpr std::size_t k_server_sessions = 32;  // connections served at once (one thread each)

std::string describe(ExpertRef e) { return "expert " + std::to_string(e.layer) + "/" + std::to_string(e.expert); }

// The queue's de-duplication key for an expert fetch (not a blob id: the blob is learnt
// from the holder).
transfer::BlobId fetch_key(const std::string& model, ExpertRef e) {
  const std::string text = "slimcache expert fetch\n" + model + "\n" + std::to_string(e.layer) + "\n" +
                           std::to_string(e.expert);
  return transfer::BlobId::of(std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace

Expected<std::optional<transfer::TransferPsk>, std::string> transfer_psk_for(const config::DaemonConfig& config,
                                                                            std::string& why_none) {
  std::vector<std::uint8_t> secret;
  std::string source;
  if (!config.security.tls_psk.empty()) {
    const std::string text = trim(config.security.tls_psk);
    source = "security.tls_psk_file";
    if (auto key = gossip::key_from_base64(text)) {
      secret.assign(key->begin(), key->end());  // a base64 AES-256 key, like the keyring's
    } else {
      secret.assign(text.begin(), text.end());  // any other secret of at least 16 bytes
    }
  } else {
    source = "the primary cluster key";
    auto keys = gossip::keys_from_keyring_files(config.security.keyring_contents);
    if (!keys) return Unexpected("keyring: " + keys.error().context);
    if (!keys->empty()) secret.assign(keys->front().begin(), keys->front().end());
  }
  if (secret.empty()) {
    why_none = "no cluster key (security.keyring_files) and no security.tls_psk_file";
    return std::optional<transfer::TransferPsk>{};
  }
  auto psk = transfer::derive_transfer_psk(secret, config.cluster.label);
  if (!psk) return Unexpected("transfer key from " + source + ": " + psk.error().message);
  return std::optional<transfer::TransferPsk>(std::move(psk).value());
}

struct TransferService::Shared {
  mutable std::mutex mutex;
  std::map<transfer::BlobId, cache::ExpertKey> known;  // blob ids learnt from STAT answers
  bool alive = true;                                  // io_context thread only
};

TransferService::TransferService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                                 const platform::Clock& clock, metrics::Registry& metrics, CacheService& cache,
                                 Options options)
    : m_io(io),
      m_config(config),
      m_log(log),
      m_clock(clock),
      m_metrics(metrics),
      m_cache(cache),
      m_options(options),
      m_shared(std::make_shared<Shared>()),
      m_rate_timer(io) {}

TransferService::~TransferService() { stop(); }

std::optional<cache::ExpertKey> TransferService::key_of(const transfer::BlobId& id) const {
  {
    std::lock_guard lock(m_shared->mutex);
    if (auto it = m_shared->known.find(id); it != m_shared->known.end()) return it->second;
  }
  // A GET by id without a STAT first (a protocol version 1 peer): look through the tier.
  if (auto info = m_cache.find_by_sha256(id.bytes)) return info->key;
  return std::nullopt;
}

Expected<void, std::string> TransferService::start() {
  std::string why_none;
  auto psk = transfer_psk_for(m_config, why_none);
  if (!psk) return Unexpected(psk.error());
  if (!*psk) {
    SLIM_LOG(m_log, LogLevel::k_warning) << "expert transfers are disabled: " << why_none
                                         << " (transfers are never sent in plaintext)";
    return {};
  }
  const auto& t = m_config.transfer;
  auto client_context = transfer::TlsContext::create({transfer::TlsRole::k_client, **psk, std::nullopt, m_options.aes});
  auto server_context = transfer::TlsContext::create({transfer::TlsRole::k_server, **psk, std::nullopt, m_options.aes});
  if (!client_context) return Unexpected("transfer TLS: " + client_context.error().message);
  if (!server_context) return Unexpected("transfer TLS: " + server_context.error().message);

  const auto staging_dir = (std::filesystem::path(m_config.node.state_dir) / "transfer-staging").string();
  auto staging = transfer::DirectoryBlobStore::open(staging_dir);
  if (!staging) return Unexpected("transfer staging " + staging_dir + ": " + staging.error().message);
  m_staging = std::move(staging).value();
  transfer::DiskTierBlobStore::TierAccess access{
      [this](const cache::ExpertKey& key) { return m_cache.find_blob(key); },
      [this](const cache::ExpertKey& key) { return m_cache.read_blob(key); },
      [this](const cache::ExpertKey& key, std::span<const std::byte> payload) { return m_cache.store_fetched(key, payload); }};
  m_store = std::make_unique<transfer::DiskTierBlobStore>(std::move(access), *m_staging,
                                                           [this](const transfer::BlobId& id) { return key_of(id); });
  if (t.rate_limit > 0) m_limiter = std::make_unique<transfer::RateLimiter>(t.rate_limit, 0, m_clock);

  transfer::ClientOptions client_options;
  client_options.io_timeout = t.io_timeout;
  client_options.limits.max_chunk_size = transfer::k_max_chunk_size_limit;
  client_options.limiter = m_limiter.get();
  client_options.stripes = t.stripes;
  m_client = std::make_unique<transfer::TransferClient>(*client_context, *m_store, client_options);
  m_queue = std::make_unique<transfer::TransferQueue>(*m_client, t.max_parallel);

  transfer::ServerOptions server_options;
  server_options.bind_address = m_config.network.bind_address;
  server_options.port = m_config.network.transfer_port;
  // Striped fetches use `stripes` connections each: serve that many per parallel transfer.
  server_options.max_parallel = static_cast<std::size_t>(t.max_parallel) * std::max<std::uint32_t>(t.stripes, 1);
  // Peers keep sessions (protocol version 3) open between requests, each on a server
  // thread until it idles out: serve enough at once that every peer of a cluster gets in.
  server_options.max_sessions = std::max<std::size_t>(server_options.max_parallel, k_server_sessions);
  server_options.chunk_size = static_cast<std::uint32_t>(t.chunk_size);
  server_options.io_timeout = t.io_timeout;
  server_options.limiter = m_limiter.get();
  server_options.expert_lookup = [this, shared = m_shared](std::uint32_t layer,
                                                           std::uint32_t expert) -> std::optional<transfer::InfoBody> {
    auto info = m_cache.find_expert(layer, expert);
    if (!info) return std::nullopt;
    transfer::BlobId id;
    id.bytes = info->sha256;
    std::lock_guard lock(shared->mutex);
    shared->known[id] = info->key;
    return transfer::InfoBody{info->payload_size, id};
  };
  auto server = transfer::TransferServer::start(*server_context, *m_store, server_options);
  if (!server) {
    m_queue.reset();
    return Unexpected("transfer server on " + m_config.network.bind_address + ":" +
                      std::to_string(m_config.network.transfer_port) + ": " + server.error().message);
  }
  m_server = std::move(server).value();

  auto gauge = [this](const char* name, const char* help, std::function<double()> read) {
    m_metrics.gauge_callback(name, help, std::move(read));
  };
  gauge("slimcache_transfers_completed_total", "Expert fetches that completed (verified and stored)",
        [this] { return static_cast<double>(m_completed); });
  gauge("slimcache_transfers_failed_total", "Expert fetches that failed on every holder",
        [this] { return static_cast<double>(m_failed); });
  gauge("slimcache_transfer_bytes_received_total", "Expert bytes received from peers",
        [this] { return m_client ? static_cast<double>(m_client->stats().bytes_received) : 0.0; });
  gauge("slimcache_transfer_bytes_sent_total", "Expert bytes sent to peers",
        [this] { return m_server ? static_cast<double>(m_server->stats().bytes_sent) : 0.0; });
  gauge("slimcache_transfer_verify_failures_total", "Received blobs whose SHA-256 did not match (discarded)",
        [this] { return m_client ? static_cast<double>(m_client->stats().verify_failures) : 0.0; });
  gauge("slimcache_transfers_in_flight", "Expert fetches running or queued",
        [this] { return static_cast<double>(m_waiting.size()); });
  arm_rate_timer();
  SLIM_LOG(m_log, LogLevel::k_notice) << "expert transfers on " << m_config.network.bind_address << ":" << port()
                                      << " (TLS PSK " << (*psk)->identity << ", " << t.max_parallel << " at once, "
                                      << t.stripes << " stripe(s), rate limit "
                                      << (t.rate_limit ? std::to_string(t.rate_limit) + " B/s" : std::string("none"))
                                      << ")";
  return {};
}

void TransferService::arm_rate_timer() {
  m_rate_timer.expires_after(std::chrono::seconds(1));
  m_rate_timer.async_wait([this](const asio::error_code& ec) {
    if (ec || m_stopped) return;
    const std::uint64_t bytes = (m_client ? m_client->stats().bytes_received : 0) + (m_server ? m_server->stats().bytes_sent : 0);
    const double now_rate = static_cast<double>(bytes - m_rate_last_bytes);
    m_rate_last_bytes = bytes;
    m_rate = 0.5 * m_rate + 0.5 * now_rate;
    arm_rate_timer();
  });
}

void TransferService::stop() {
  if (m_stopped) return;
  m_stopped = true;
  m_shared->alive = false;  // callbacks already posted see this and do nothing
  m_rate_timer.cancel();
  if (m_server) m_server->stop();
  m_queue.reset();  // cancels running fetches (partials kept), answers queued ones
  if (m_client) m_client->drop_sessions();  // close_notify to every peer we kept a session with
  std::map<ExpertRef, std::vector<Done>> waiting;
  waiting.swap(m_waiting);
  for (auto& [expert, callbacks] : waiting) {
    for (auto& done : callbacks) {
      asio::post(m_io, [done, expert = expert] { done(Unexpected(describe(expert) + ": the transfer service stopped")); });
    }
  }
}

void TransferService::fetch(ExpertRef expert, std::vector<PeerEndpoint> holders, Done done) {
  auto fail_now = [this, &done](std::string why) {
    asio::post(m_io, [done = std::move(done), why = std::move(why)] { done(Unexpected(why)); });
  };
  if (!enabled() || m_stopped) return fail_now(describe(expert) + ": expert transfers are disabled on this node");
  const auto manifest = m_cache.manifest();
  if (!manifest) return fail_now(describe(expert) + ": no model on this node (adopt or import one first)");
  if (expert.layer >= manifest->layers || expert.expert >= manifest->experts)
    return fail_now(describe(expert) + " is outside the model");
  if (m_cache.find_expert(expert.layer, expert.expert)) {
    asio::post(m_io, [done = std::move(done)] { done(Expected<void, std::string>{}); });
    return;
  }
  if (holders.empty()) return fail_now(describe(expert) + ": no holder given");
  if (auto it = m_waiting.find(expert); it != m_waiting.end()) {
    it->second.push_back(std::move(done));
    return;
  }
  m_waiting[expert].push_back(std::move(done));
  const std::string model = m_cache.cache_model_id();
  auto work = [client = m_client.get(), cache = &m_cache, shared = m_shared, holders = std::move(holders), expert,
               model](int cancel_fd) -> transfer::FetchOutcome {
    std::string failures;
    transfer::TransferError last{transfer::TransferErrc::k_not_found, "no holder"};
    for (const auto& holder : holders) {  // bounded: one attempt per holder
      const transfer::Endpoint peer{holder.host, holder.port};
      const std::string who = (holder.node.empty() ? peer.to_string() : holder.node + " (" + peer.to_string() + ")");
      auto info = client->stat_expert(peer, expert.layer, expert.expert, cancel_fd);
      transfer::FetchOutcome outcome = Unexpected(transfer::TransferError{});
      if (info) {
        {
          std::lock_guard lock(shared->mutex);
          shared->known[info->id] = cache::ExpertKey{model, expert.layer, expert.expert};
        }
        outcome = client->fetch(peer, info->id, cancel_fd, info->total_size);
        if (outcome && outcome->already_present && !cache->find_expert(expert.layer, expert.expert)) {
          outcome = Unexpected(transfer::TransferError{transfer::TransferErrc::k_io, "staged blob not in the tier"});
        }
      } else {
        outcome = Unexpected(info.error());
      }
      if (outcome) return outcome;
      last = outcome.error();
      failures += (failures.empty() ? "" : "; ") + who + ": " + transfer::to_string(last.code) + ": " + last.message;
      if (last.code == transfer::TransferErrc::k_cancelled) break;
    }
    return Unexpected(transfer::TransferError{last.code, failures});
  };
  m_queue->submit_work(fetch_key(model, expert), std::move(work),
                       [this, weak = std::weak_ptr<Shared>(m_shared), expert](const transfer::BlobId&,
                                                                             const transfer::FetchOutcome& outcome) {
                         asio::post(m_io, [this, weak, expert, outcome] {
                           auto shared = weak.lock();
                           if (!shared || !shared->alive) return;
                           finish(expert, outcome);
                         });
                       });
}

void TransferService::finish(ExpertRef expert, const transfer::FetchOutcome& outcome) {
  auto it = m_waiting.find(expert);
  if (it == m_waiting.end()) return;
  auto callbacks = std::move(it->second);
  m_waiting.erase(it);
  nlohmann::json record{{"layer", expert.layer}, {"expert", expert.expert}, {"ok", outcome.has_value()}};
  Expected<void, std::string> result;
  if (outcome) {
    ++m_completed;
    if (!outcome->ciphersuite.empty()) m_ciphersuite = outcome->ciphersuite;
    record["bytes"] = outcome->bytes_received;
    record["resumed_from"] = outcome->resumed_from;
    record["stripes"] = outcome->stripes;
    SLIM_LOG(m_log, LogLevel::k_info) << "fetched " << describe(expert) << " (" << outcome->size << " bytes"
                                      << (outcome->resumed_from ? ", resumed from " + std::to_string(outcome->resumed_from)
                                                                : std::string())
                                      << ")";
  } else {
    ++m_failed;
    record["error"] = outcome.error().message;
    result = Unexpected(describe(expert) + ": " + outcome.error().message);
    SLIM_LOG(m_log, LogLevel::k_warning) << "fetch of " << describe(expert) << " failed: " << outcome.error().message;
  }
  m_recent.push_back(std::move(record));
  while (m_recent.size() > 16) m_recent.pop_front();
  for (auto& done : callbacks) done(result);
}

bool TransferService::fetching(ExpertRef expert) const { return m_waiting.contains(expert); }

std::size_t TransferService::in_flight() const { return m_waiting.size(); }

std::uint16_t TransferService::port() const { return m_server ? m_server->port() : 0; }

nlohmann::json TransferService::status() const {
  const auto& t = m_config.transfer;
  if (!enabled()) return {{"enabled", false}, {"reason", "no cluster key and no security.tls_psk_file"}};
  const auto client = m_client->stats();
  const auto server = m_server->stats();
  std::string suite = m_ciphersuite.empty() ? server.last_ciphersuite : m_ciphersuite;
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& r : m_recent) recent.push_back(r);
  return {{"enabled", true},
          {"port", port()},
          {"in_flight", m_queue ? m_queue->active() : 0},
          {"queued", m_queue ? m_queue->queued() : 0},
          {"waiting_experts", m_waiting.size()},
          {"completed", m_completed},
          {"failed", m_failed},
          {"verify_failures", client.verify_failures},
          {"resumed", client.resumed},
          {"bytes_received", client.bytes_received},
          {"bytes_sent", server.bytes_sent},
          {"uploads", server.requests},
          {"handshake_failures", server.handshake_failures},
          {"connections_opened", client.connections},
          {"session_reuses", client.session_reuses},
          {"connections_served", server.connections},
          {"rate_bytes_per_s", m_rate},
          {"ciphersuite", suite},
          {"max_parallel", t.max_parallel},
          {"stripes", t.stripes},
          {"rate_limit", t.rate_limit},
          {"recent", recent}};
}

void TransferService::register_commands(admin::AdminServer& admin) {
  admin.add_command("transfers", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    reply.result(status());
  });
}

}  // namespace slimcache::agent
