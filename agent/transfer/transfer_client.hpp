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
};

struct FetchResult {
  std::uint64_t size = 0;
  std::uint64_t resumed_from = 0;    // bytes already held when the transfer started
  std::uint64_t bytes_received = 0;  // blob bytes received in this call
  bool already_present = false;      // the store had it; nothing was transferred
  std::string ciphersuite;
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
  [[nodiscard]] Expected<FetchResult, TransferError> fetch(const Endpoint& peer, const BlobId& id, int cancel_fd = -1);
  [[nodiscard]] ClientStats stats() const;
  [[nodiscard]] BlobStore& store() { return m_store; }

 private:
  enum class Attempt { k_done, k_restart };
  Expected<Attempt, TransferError> attempt(const Endpoint& peer, const BlobId& id, int cancel_fd, bool last,
                                           FetchResult& result);

  std::shared_ptr<TlsContext> m_context;
  BlobStore& m_store;
  ClientOptions m_options;
  std::atomic<std::uint64_t> m_fetches{0}, m_completed{0}, m_failed{0}, m_verify_failures{0}, m_resumed{0},
      m_bytes{0};
};

}  // namespace slimcache::agent::transfer
