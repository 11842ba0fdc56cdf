#pragma once
// The daemon's peer expert transfers: a TLS transfer server over the disk tier and a bounded
// fetch queue into it (agent/transfer, docs/transfer.md), for the placement to call.
//
// Key: the transfer PSK is derived from the primary cluster key (the first key of
// security.keyring_files) and cluster.label, or from security.tls_psk_file when set. With no
// key the service is disabled (one log line; never plaintext): start() succeeds, port() is 0
// and fetch() fails at once.
// Server: bound to network.bind_address:network.transfer_port (0 = any free port, see
// port()), serving experts held in the disk tier (GET by blob id, STAT_EXPERT by key), up
// to 32 connections at once (protocol version 3 sessions stay open between requests).
// Fetches reuse one TLS session per holder for their STAT and GET requests and for the
// next fetches from that holder (TransferClient sessions), so a handshake is not paid per
// expert.
// Fetching: fetch(expert, holders) asks each holder in order which blob holds the expert
// (STAT_EXPERT), then fetches it (resuming a kept partial, `transfer.stripes` ranges at
// once), verifies SHA-256, stores it through CacheService::store_fetched (budget-checked,
// visible in the cache inventory), and calls done. A holder that fails (unreachable,
// refuses, disconnects, sends bad bytes) is followed by the next one; done gets an error
// naming every holder's failure when none succeeded. A second fetch of an expert already
// queued or running joins it. At most transfer.max_parallel fetches run; the rest queue.
// Threads: call every member function on the io_context thread. Transfers run on the
// transfer library's own threads; `done` callbacks are posted back to the io_context.
// stop() (and the destructor) cancels running fetches (partials kept) and answers queued
// ones with an error, without running their callbacks after the service is gone.
#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/admin/admin_server.hpp"
#include "agent/daemon/cache_service.hpp"
#include "agent/metrics/metrics_registry.hpp"
#include "agent/transfer/cipher_preference.hpp"
#include "agent/transfer/disk_tier_blob_store.hpp"
#include "agent/transfer/transfer_client.hpp"
#include "agent/transfer/transfer_queue.hpp"
#include "agent/transfer/transfer_server.hpp"
#include "config/daemon_config.hpp"
#include "platform/clock.hpp"
#include "platform/log.hpp"

namespace slimcache::agent {

struct ExpertRef {
  std::uint32_t layer = 0;
  std::uint32_t expert = 0;
  auto operator<=>(const ExpertRef&) const = default;
};

struct PeerEndpoint {
  std::string node;
  std::string host;
  std::uint16_t port = 0;
};

// The transfer PSK the configuration describes: tls_psk_file's secret when set, else the
// primary keyring key; nullopt (with `why`) when neither exists. Errors for malformed keys.
[[nodiscard]] Expected<std::optional<transfer::TransferPsk>, std::string> transfer_psk_for(
    const config::DaemonConfig& config, std::string& why_none);

struct TransferServiceOptions {
  transfer::AesPolicy aes = transfer::AesPolicy::k_detect;  // tests force suites
};

class TransferService {
 public:
  using Done = std::function<void(Expected<void, std::string>)>;
  using Options = TransferServiceOptions;

  TransferService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                  const platform::Clock& clock, metrics::Registry& metrics, CacheService& cache, Options options = {});
  ~TransferService();
  TransferService(const TransferService&) = delete;
  TransferService& operator=(const TransferService&) = delete;

  // Binds the server (an error if the port is taken or a key is malformed).
  [[nodiscard]] Expected<void, std::string> start();
  void stop();
  void register_commands(admin::AdminServer& admin);

  void fetch(ExpertRef expert, std::vector<PeerEndpoint> holders, Done done);
  [[nodiscard]] bool fetching(ExpertRef expert) const;
  [[nodiscard]] std::size_t in_flight() const;
  [[nodiscard]] nlohmann::json status() const;
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] bool enabled() const { return m_server != nullptr; }

 private:
  struct Shared;  // what transfer threads touch; outlives the service while they run
  [[nodiscard]] std::optional<cache::ExpertKey> key_of(const transfer::BlobId& id) const;
  void finish(ExpertRef expert, const transfer::FetchOutcome& outcome);
  void arm_rate_timer();

  asio::io_context& m_io;
  const config::DaemonConfig& m_config;
  platform::Logger& m_log;
  const platform::Clock& m_clock;
  metrics::Registry& m_metrics;
  CacheService& m_cache;
  Options m_options;
  std::shared_ptr<Shared> m_shared;
  std::unique_ptr<transfer::RateLimiter> m_limiter;
  std::unique_ptr<transfer::DirectoryBlobStore> m_staging;
  std::unique_ptr<transfer::DiskTierBlobStore> m_store;
  std::unique_ptr<transfer::TransferClient> m_client;
  std::unique_ptr<transfer::TransferQueue> m_queue;
  std::unique_ptr<transfer::TransferServer> m_server;
  std::map<ExpertRef, std::vector<Done>> m_waiting;  // running or queued fetches
  std::uint64_t m_completed = 0;
  std::uint64_t m_failed = 0;
  std::string m_ciphersuite;
  std::deque<nlohmann::json> m_recent;  // last outcomes, newest last
  asio::steady_timer m_rate_timer;
  std::uint64_t m_rate_last_bytes = 0;
  double m_rate = 0;  // bytes/s received + sent, smoothed
  bool m_stopped = false;
};

}  // namespace slimcache::agent
