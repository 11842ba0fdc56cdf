#pragma once
// Non-blocking TCP sockets with bounded waits, for the transfer threads.
//
// Every wait is a poll() with the I/O timeout and an optional cancel fd (readable = stop):
// connect, accept, and the TLS channel's reads and writes all end with k_timeout when the
// peer makes no progress for that long, or k_cancelled when the cancel fd fires.
// Addresses are numeric (IPv4 or IPv6 literals); no name resolution.
// Ownership: TcpSocket owns its fd (move-only). Threads: one thread per socket at a time.
#include <chrono>
#include <cstdint>
#include <string>

#include "agent/transfer/transfer_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::transfer {

using IoTimeout = std::chrono::milliseconds;

enum class WaitFor { k_read, k_write };

class TcpSocket {
 public:
  TcpSocket() = default;
  explicit TcpSocket(int fd) : m_fd(fd) {}
  ~TcpSocket();
  TcpSocket(TcpSocket&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
  TcpSocket& operator=(TcpSocket&& other) noexcept;
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  [[nodiscard]] int fd() const { return m_fd; }
  [[nodiscard]] bool valid() const { return m_fd >= 0; }
  // Waits until readable/writable. k_timeout, k_cancelled (cancel_fd readable) or k_io.
  [[nodiscard]] Expected<void, TransferError> wait(WaitFor what, IoTimeout timeout, int cancel_fd = -1) const;
  // Half-closes the sending side (the peer sees EOF after the queued bytes), then closes.
  void shutdown_and_close();
  void close();

 private:
  int m_fd = -1;
};

[[nodiscard]] Expected<TcpSocket, TransferError> connect_tcp(const std::string& host, std::uint16_t port,
                                                             IoTimeout timeout);

class TcpListener {
 public:
  // Binds host:port (port 0 = any free port) and listens. k_io on failure.
  [[nodiscard]] static Expected<TcpListener, TransferError> listen(const std::string& host, std::uint16_t port,
                                                                   int backlog = 64);
  [[nodiscard]] std::uint16_t port() const { return m_port; }
  // Waits up to `timeout` for a connection; k_timeout when none, k_cancelled on cancel_fd.
  [[nodiscard]] Expected<TcpSocket, TransferError> accept(IoTimeout timeout, int cancel_fd) const;
  void close() { m_socket.close(); }

 private:
  TcpSocket m_socket;
  std::uint16_t m_port = 0;
};

}  // namespace slimcache::agent::transfer
