#pragma once
// The expert execution server: answers EXECUTE_REQUESTs (exec_protocol.hpp) by running the
// kernel (expert_kernel.hpp) on weights from an ExpertSource, batching all experts of one
// request into one run_experts() call.
//
// Listeners (either may be off):
//   - a Unix socket for the local engine (slimcache_moe_forward). Peer credentials are checked
//     against an AccessPolicy like the admin socket's. Requests from it may name holders:
//     the server groups those experts by holder, sends one local-only request per holder in
//     parallel over persistent TLS connections (PeerPool), runs the rest here meanwhile, and
//     for every expert whose holder did not answer within forward_timeout (or failed) falls
//     back to running it here (the source loads it from disk if it has it).
//   - a TLS-PSK TCP listener for peers. Their requests are always executed here, never
//     forwarded (no loops).
// Connections are persistent; at most max_connections at once (more are closed at once);
// a connection idle for idle_timeout is closed.
//
// Threads: one accept thread per listener and one thread per connection; forwarding uses a
// short-lived thread per holder. stop() (and the destructor) wakes every thread through a
// cancel pipe, closes the connections and joins; it is idempotent. execute() is thread-safe.
#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/admin/peer_credentials.hpp"
#include "agent/exec/exec_client.hpp"
#include "agent/exec/exec_protocol.hpp"
#include "agent/exec/expert_kernel.hpp"
#include "agent/exec/expert_source.hpp"
#include "agent/transfer/tcp_socket.hpp"
#include "agent/transfer/tls_channel.hpp"

namespace slimcache::agent::exec {

struct ExecServerOptions {
  std::string unix_path;                          // "" = no Unix listener
  unsigned unix_mode = 0660;
  std::optional<admin::AccessPolicy> unix_policy;  // nullopt = whoever can open the socket file
  std::shared_ptr<transfer::TlsContext> tls_server;  // null = no TCP listener
  std::string tcp_bind = "127.0.0.1";
  std::uint16_t tcp_port = 0;                     // 0 = any free port (see tcp_port())
  std::shared_ptr<transfer::TlsContext> tls_client;  // null = no forwarding (holders ignored)
  std::string self_address;                       // holders equal to this run here
  std::chrono::milliseconds io_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds forward_timeout{2'000};
  std::size_t max_connections = 32;
  unsigned kernel_threads = 1;  // RowThreads shared by requests (one at a time; others run single-threaded)
  // Benchmarks only (tests/bench/e2e): hold every answer this long before sending it, to
  // emulate a link's round trip where the kernel has no sch_netem. 0 in production.
  std::chrono::microseconds emulated_delay{0};
};

struct ExecStats {
  std::uint64_t connections = 0;
  std::uint64_t refused = 0;  // credentials, busy or handshake
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t experts_run = 0;        // executed here
  std::uint64_t experts_forwarded = 0;  // answered by a holder
  std::uint64_t forward_failures = 0;   // holder calls that failed or timed out
  std::uint64_t fallbacks = 0;          // experts run here after their holder failed
};

class ExecServer {
 public:
  [[nodiscard]] static Expected<std::unique_ptr<ExecServer>, ExecError> start(ExpertSource& source,
                                                                             ExecServerOptions options);
  ~ExecServer();
  ExecServer(const ExecServer&) = delete;
  ExecServer& operator=(const ExecServer&) = delete;

  [[nodiscard]] std::uint16_t tcp_port() const { return m_tcp ? m_tcp->port() : 0; }
  [[nodiscard]] ExecStats stats() const;
  void stop();

  enum class Origin { k_local_engine, k_peer };
  // What a connection does with one decoded request: the answer, or the ERROR to send.
  [[nodiscard]] Expected<ExecuteResponse, ErrorMessage> execute(const ExecuteRequest& request, Origin origin);

 private:
  ExecServer(ExpertSource& source, ExecServerOptions options);
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void unix_accept_loop();
  void tcp_accept_loop();
  void spawn(std::function<void()> body);
  void reap();
  void serve(ExecStream& stream, Origin origin);
  // Runs experts `which` (indices into request.experts) here; fills their answers.
  void run_here(const ExecuteRequest& request, const std::vector<std::size_t>& which,
                std::vector<ResponseExpert>& answers);

  ExpertSource& m_source;
  ExecServerOptions m_options;
  int m_cancel_read = -1;
  int m_cancel_write = -1;
  int m_unix_fd = -1;
  std::optional<transfer::TcpListener> m_tcp;
  std::unique_ptr<PeerPool> m_peers;
  std::mutex m_threads_mutex;  // guards m_kernel_threads use
  std::unique_ptr<RowThreads> m_kernel_threads;
  std::mutex m_mutex;  // guards m_connections
  std::list<Connection> m_connections;
  std::thread m_unix_thread;
  std::thread m_tcp_thread;
  std::atomic<bool> m_stopped{false};
  mutable std::mutex m_stats_mutex;
  ExecStats m_stats;
};

}  // namespace slimcache::agent::exec
