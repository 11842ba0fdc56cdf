#pragma once
// Byte streams the execution protocol (exec_protocol.hpp) runs over, and frame I/O on them.
//
//   - a Unix stream socket (the local engine <-> its slimcached), poll()ed with a timeout;
//   - a TLS 1.2 PSK channel (slimcached <-> slimcached), agent/transfer/tls_channel.hpp.
// Every blocking step waits at most the stream's timeout without progress (k_timeout) and
// stops at once when the cancel fd becomes readable (k_cancelled); a closed peer gives
// k_disconnected. Ownership: a stream owns its socket. Threads: one thread per stream at a time.
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/exec/exec_error.hpp"
#include "agent/exec/exec_protocol.hpp"
#include "agent/transfer/tls_channel.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::exec {

class ExecStream {
 public:
  virtual ~ExecStream() = default;
  [[nodiscard]] virtual Expected<void, ExecError> write_all(std::span<const std::byte> bytes) = 0;
  [[nodiscard]] virtual Expected<void, ExecError> read_exact(std::span<std::byte> dest) = 0;
};

// A connected Unix (or any stream) socket fd, owned. `timeout` bounds every wait.
std::unique_ptr<ExecStream> make_fd_stream(int fd, std::chrono::milliseconds timeout, int cancel_fd = -1);
// A TLS channel after its handshake.
std::unique_ptr<ExecStream> make_tls_stream(std::unique_ptr<transfer::TlsChannel> channel);

// Connects to a Unix socket path. k_io when nothing listens there.
Expected<std::unique_ptr<ExecStream>, ExecError> connect_unix(const std::string& path, std::chrono::milliseconds timeout);
// Connects to "host:port" (numeric host) and runs the TLS handshake with `context` (client role).
Expected<std::unique_ptr<ExecStream>, ExecError> connect_tls(const std::string& address,
                                                           std::shared_ptr<transfer::TlsContext> context,
                                                           std::chrono::milliseconds timeout);
// "host:port" -> host, port; IPv6 as "[::1]:7948". False when malformed.
bool split_address(const std::string& address, std::string& host, std::uint16_t& port);

struct Frame {
  FrameHeader header;
  std::vector<std::byte> body;
};
// Reads one frame (header validated, body at most k_max_body).
Expected<Frame, ExecError> read_frame(ExecStream& stream);

}  // namespace slimcache::agent::exec
