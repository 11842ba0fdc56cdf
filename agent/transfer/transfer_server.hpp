#pragma once
// Serves blobs from a BlobStore to peers: GET(id, offset[, length]) -> BLOB, CHUNK*, END,
// and (version 2) STAT_EXPERT(layer, expert) -> INFO through `expert_lookup` (protocol.hpp).
//
// Threads: start() spawns `max_sessions` worker threads (max_parallel when 0); each accepts
// one connection at a time and serves it to the end, so at most that many connections are
// served at once and further peers wait in the listen backlog (their connect succeeds, their
// handshake waits). A version 3 request keeps its connection open as a session: the worker
// then reads the next request, until the client closes, a request of version 1 or 2, an
// error other than not_found, or `session_idle_timeout` without a request.
// Every network step is bounded by io_timeout. stop() (and the destructor) wakes every
// worker through a cancel pipe, cuts transfers in progress and joins; it is idempotent.
// The shared RateLimiter (optional, not owned) limits the bytes sent by all workers.
// Stats are safe to read from any thread.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/transfer/blob_store.hpp"
#include "agent/transfer/protocol.hpp"
#include "agent/transfer/rate_limiter.hpp"
#include "agent/transfer/tls_channel.hpp"

namespace slimcache::agent::transfer {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 = any free port (see TransferServer::port)
  std::size_t max_parallel = 4;
  std::size_t max_sessions = 0;              // connections served at once; 0 = max_parallel
  IoTimeout session_idle_timeout{2000};      // a version 3 session without a request is closed
  std::uint32_t chunk_size = k_default_chunk_size;
  IoTimeout io_timeout{10000};
  RateLimiter* limiter = nullptr;
  // Which blob holds expert (layer, expert), for STAT_EXPERT; empty or nullopt = not_found.
  // Called on the worker threads.
  std::function<std::optional<InfoBody>(std::uint32_t layer, std::uint32_t expert)> expert_lookup;
  // Fault injection for tests: cut each connection without close_notify after this many
  // chunks (0 = never), as if the server process died.
  std::uint64_t cut_after_chunks = 0;
  // Compatibility tests: answer requests of a later version with unsupported_version, as a
  // server of this version does (3 = every version this build speaks).
  std::uint16_t max_version = k_protocol_version_3;
};

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t handshake_failures = 0;
  std::uint64_t requests = 0;
  std::uint64_t session_reuses = 0;  // requests answered on a connection that had answered one
  std::uint64_t stat_requests = 0;
  std::uint64_t chunks_sent = 0;
  std::uint64_t bytes_sent = 0;  // blob bytes (payload of CHUNK frames)
  std::uint64_t errors_sent = 0;
  std::uint64_t cut_connections = 0;
  std::size_t peak_active = 0;
  std::vector<std::uint64_t> requested_offsets;  // in arrival order
  std::string last_ciphersuite;
};

class TransferServer {
 public:
  [[nodiscard]] static Expected<std::unique_ptr<TransferServer>, TransferError> start(
      std::shared_ptr<TlsContext> context, BlobStore& store, ServerOptions options);
  ~TransferServer();
  TransferServer(const TransferServer&) = delete;
  TransferServer& operator=(const TransferServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return m_listener.port(); }
  [[nodiscard]] ServerStats stats() const;
  void stop();

 private:
  TransferServer(std::shared_ptr<TlsContext> context, BlobStore& store, ServerOptions options)
      : m_context(std::move(context)), m_store(store), m_options(std::move(options)) {}
  void worker();
  void serve(TcpSocket socket);
  enum class Next { k_more, k_end };
  Next answer(TlsChannel& channel, const GetRequest& request);

  std::shared_ptr<TlsContext> m_context;
  BlobStore& m_store;
  ServerOptions m_options;
  TcpListener m_listener;
  int m_cancel_read = -1;
  int m_cancel_write = -1;
  std::atomic<bool> m_stopping{false};
  std::atomic<std::size_t> m_active{0};
  mutable std::mutex m_stats_mutex;
  ServerStats m_stats;
  std::vector<std::thread> m_workers;
};

}  // namespace slimcache::agent::transfer
