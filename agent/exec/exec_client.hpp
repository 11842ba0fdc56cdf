#pragma once
// The calling side of the execution protocol: one request, one answer, on a persistent
// connection.
//
// call() sends an EXECUTE_REQUEST and returns the EXECUTE_RESPONSE (k_remote with the
// peer's message for an ERROR frame; k_timeout / k_disconnected / k_io from the stream;
// k_bad_header and friends for a malformed answer, after which the connection is unusable).
// PeerPool keeps idle TLS connections per "host:port" and reuses them; a reused connection
// that turns out closed is replaced once by a fresh one. Threads: an ExecConnection is used
// by one thread at a time; PeerPool is thread-safe (each call takes its own connection).
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/exec/exec_protocol.hpp"
#include "agent/exec/exec_transport.hpp"

namespace slimcache::agent::exec {

class ExecConnection {
 public:
  explicit ExecConnection(std::unique_ptr<ExecStream> stream) : m_stream(std::move(stream)) {}
  [[nodiscard]] Expected<ExecuteResponse, ExecError> call(const ExecuteRequest& request);
  // call() in two halves, so the caller can work while the server computes.
  [[nodiscard]] Expected<void, ExecError> send(const ExecuteRequest& request);
  [[nodiscard]] Expected<ExecuteResponse, ExecError> receive(std::uint64_t request_id);
  // False once a call failed at the stream or framing level (drop the connection).
  [[nodiscard]] bool healthy() const { return m_healthy; }

 private:
  std::unique_ptr<ExecStream> m_stream;
  bool m_healthy = true;
};

class PeerPool {
 public:
  PeerPool(std::shared_ptr<transfer::TlsContext> client_context, std::chrono::milliseconds timeout)
      : m_context(std::move(client_context)), m_timeout(timeout) {}
  // Executes `request` on the peer at `address` (k_io when no TLS context is configured).
  [[nodiscard]] Expected<ExecuteResponse, ExecError> call(const std::string& address, const ExecuteRequest& request);
  [[nodiscard]] std::size_t idle_connections() const;

 private:
  static constexpr std::size_t k_max_idle_per_peer = 4;
  std::shared_ptr<transfer::TlsContext> m_context;
  std::chrono::milliseconds m_timeout;
  mutable std::mutex m_mutex;
  std::map<std::string, std::vector<std::unique_ptr<ExecConnection>>> m_idle;
};

}  // namespace slimcache::agent::exec
