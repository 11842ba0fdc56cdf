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
// Threads: fetch() may run on many threads at once for different ids (the store refuses a
// second writer of one id with k_busy). Every network step is bounded by io_timeout; a
// readable cancel_fd stops the fetch with k_cancelled. The RateLimiter (optional, not
// owned) limits received bytes.
#include <atomic>
#include <memory>
#include <string>

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

struct ClientOptions {
  IoTimeout io_timeout{10000};
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
};

class TransferClient {
 public:
  TransferClient(std::shared_ptr<TlsContext> context, BlobStore& store, ClientOptions options);
  // size_hint: the blob's size when known (0 = unknown; striping needs it).
  [[nodiscard]] Expected<FetchResult, TransferError> fetch(const Endpoint& peer, const BlobId& id, int cancel_fd = -1,
                                                           std::uint64_t size_hint = 0);
  [[nodiscard]] Expected<InfoBody, TransferError> stat_expert(const Endpoint& peer, std::uint32_t layer,
                                                              std::uint32_t expert, int cancel_fd = -1);
  [[nodiscard]] ClientStats stats() const;
  [[nodiscard]] BlobStore& store() { return m_store; }

 private:
  enum class Attempt { k_done, k_restart };
  Expected<Attempt, TransferError> attempt(const Endpoint& peer, const BlobId& id, int cancel_fd, bool last,
                                           FetchResult& result);
  Expected<void, TransferError> striped(const Endpoint& peer, const BlobId& id, int cancel_fd, std::uint64_t size,
                                        FetchResult& result);

  std::shared_ptr<TlsContext> m_context;
  BlobStore& m_store;
  ClientOptions m_options;
  std::atomic<std::uint64_t> m_fetches{0}, m_completed{0}, m_failed{0}, m_verify_failures{0}, m_resumed{0},
      m_bytes{0};
};

}  // namespace slimcache::agent::transfer
