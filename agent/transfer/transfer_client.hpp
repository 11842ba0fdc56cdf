#pragma once
// Fetches one blob from a peer into a BlobStore, resuming a kept partial.
//
// fetch(): asks for the bytes after the store's partial (GET id, offset), checks every
// frame against the limits (protocol.hpp), appends chunks to the store and, at END, lets
// the store verify SHA-256 over the whole blob (BlobStore::finish). A disconnect, a
// timeout or a cancel keeps the partial (the next fetch resumes from it); a SHA-256
// mismatch discards it and counts verify_failures. If the store discards a partial on
// begin (another announced size), the fetch restarts once from 0.
//
// Striping (protocol version 2): with options.stripes > 1 and the blob's size known (the
// size_hint, e.g. from stat_expert), the bytes after the partial are fetched as `stripes`
// ranges over as many TLS connections at once, so decryption runs on several cores. The
// first range is appended to the store as it arrives; the others are held in memory (so a
// striped fetch holds up to (stripes-1)/stripes of the blob in memory) and appended in
// order once every range is complete, then SHA-256 is verified over the whole blob as
// always. A failure keeps the first range's bytes as the partial. Blobs under
// stripes x min_stripe_bytes are fetched over one connection.
//
// stat_expert() (version 2) asks a peer which blob holds expert (layer, expert).
//
// Sessions (protocol version 3, SessionMode::k_reuse, the default): every request (STAT,
// GET, each stripe's range) goes over a TLS connection kept open per peer and reused by the
// next request to that peer, so a handshake is paid once per connection, not per request.
// Idle connections are pooled (at most max_idle_sessions per peer; one that the peer
// closed meanwhile is dropped); a request that fails on a reused connection before any
// answer arrived is retried once on a fresh one. A peer that answers version 3 with
// unsupported_version gets versions 1/2 and a connection per request from then on.
// drop_sessions() closes the pooled connections (the destructor does too).
//
// Threads: fetch() may run on many threads at once for different ids (the store refuses a
// second writer of one id with k_busy). Every network step is bounded by io_timeout; a
// readable cancel_fd stops the fetch with k_cancelled. The RateLimiter (optional, not
// owned) limits received bytes.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/transfer/blob_store.hpp"
#include "agent/transfer/protocol.hpp"
#include "agent/transfer/rate_limiter.hpp"
#include "agent/transfer/tls_channel.hpp"

namespace slimcache::agent::transfer {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  [[nodiscard]] std::string to_string() const { return host + ":" + std::to_string(port); }
};

enum class SessionMode { k_reuse, k_one_per_request };

struct ClientOptions {
  IoTimeout io_timeout{10000};
  SessionMode sessions = SessionMode::k_reuse;
  std::size_t max_idle_sessions = 8;             // pooled connections per peer
  Limits limits;
  RateLimiter* limiter = nullptr;
  std::size_t stripes = 1;                       // connections per blob (1 = protocol v1)
  std::uint64_t min_stripe_bytes = 4ull << 20;   // smaller ranges are not worth a handshake
};

struct FetchResult {
  std::uint64_t size = 0;
  std::uint64_t resumed_from = 0;    // bytes already held when the transfer started
  std::uint64_t bytes_received = 0;  // blob bytes received in this call
  bool already_present = false;      // the store had it; nothing was transferred
  std::string ciphersuite;
  std::size_t stripes = 1;           // connections used
};

struct ClientStats {
  std::uint64_t fetches = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t verify_failures = 0;
  std::uint64_t resumed = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t connections = 0;     // TLS handshakes made
  std::uint64_t session_reuses = 0;  // requests sent on a pooled connection
};

class TransferClient {
 public:
  TransferClient(std::shared_ptr<TlsContext> context, BlobStore& store, ClientOptions options);
  ~TransferClient();
  TransferClient(const TransferClient&) = delete;
  TransferClient& operator=(const TransferClient&) = delete;
  // size_hint: the blob's size when known (0 = unknown; striping needs it).
  [[nodiscard]] Expected<FetchResult, TransferError> fetch(const Endpoint& peer, const BlobId& id, int cancel_fd = -1,
                                                           std::uint64_t size_hint = 0);
  [[nodiscard]] Expected<InfoBody, TransferError> stat_expert(const Endpoint& peer, std::uint32_t layer,
                                                              std::uint32_t expert, int cancel_fd = -1);
  [[nodiscard]] ClientStats stats() const;
  [[nodiscard]] BlobStore& store() { return m_store; }
  void drop_sessions();

  // A request on its way: the channel and the first frame of the answer. Internal, but
  // named here so the fetch steps can share it.
  struct Opened {
    std::unique_ptr<TlsChannel> channel;
    FrameHeader head;
    bool session = false;  // version 3: give the channel back after a complete answer
  };

 private:
  // Sends `request` (its version is chosen here) and reads the answer's first frame header.
  Expected<Opened, TransferError> open_request(const Endpoint& peer, GetRequest request, int cancel_fd);
  // After a complete answer: pools a session's channel, closes any other.
  void release(const Endpoint& peer, Opened& opened);
  Expected<std::unique_ptr<TlsChannel>, TransferError> connect(const Endpoint& peer, int cancel_fd);

  enum class Attempt { k_done, k_restart };
  Expected<Attempt, TransferError> attempt(const Endpoint& peer, const BlobId& id, int cancel_fd, bool last,
                                           FetchResult& result);
  Expected<Opened, TransferError> open_range(const Endpoint& peer, const BlobId& id, std::uint64_t offset,
                                            std::uint64_t length, std::uint64_t size, int cancel_fd);
  Expected<void, TransferError> striped(const Endpoint& peer, const BlobId& id, int cancel_fd, std::uint64_t size,
                                        FetchResult& result);

  std::shared_ptr<TlsContext> m_context;
  BlobStore& m_store;
  ClientOptions m_options;
  std::atomic<std::uint64_t> m_fetches{0}, m_completed{0}, m_failed{0}, m_verify_failures{0}, m_resumed{0},
      m_bytes{0}, m_connections{0}, m_session_reuses{0};
  std::mutex m_pool_mutex;
  std::map<std::string, std::vector<std::unique_ptr<TlsChannel>>> m_idle;  // by Endpoint::to_string()
  std::set<std::string> m_legacy;  // peers without version 3
  std::uint64_t m_releases = 0;     // under m_pool_mutex
};

}  // namespace slimcache::agent::transfer
