#include "agent/exec/exec_transport.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slimcache::agent::exec {
namespace {

Unexpected<ExecError> fail(ExecErrc code, std::string message) { return Unexpected(ExecError{code, std::move(message)}); }

ExecError from_transfer(const transfer::TransferError& e) {
  using transfer::TransferErrc;
  switch (e.code) {
    case TransferErrc::k_timeout: return {ExecErrc::k_timeout, e.message};
    case TransferErrc::k_disconnected: return {ExecErrc::k_disconnected, e.message};
    case TransferErrc::k_cancelled: return {ExecErrc::k_cancelled, e.message};
    default: return {ExecErrc::k_io, e.message};
  }
}

class FdStream final : public ExecStream {
 public:
  FdStream(int fd, std::chrono::milliseconds timeout, int cancel_fd) : m_fd(fd), m_timeout(timeout), m_cancel(cancel_fd) {}
  ~FdStream() override { ::close(m_fd); }
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  Expected<void, ExecError> write_all(std::span<const std::byte> bytes) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(m_fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        SLIM_TRY_VOID(wait(POLLOUT));
        continue;
      }
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return fail(ExecErrc::k_disconnected, "peer closed the socket");
      return fail(ExecErrc::k_io, std::string("send: ") + std::strerror(errno));
    }
    return {};
  }

  Expected<void, ExecError> read_exact(std::span<std::byte> dest) override {
    std::size_t done = 0;
    while (done < dest.size()) {
      const ssize_t n = ::recv(m_fd, dest.data() + done, dest.size() - done, MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) return fail(ExecErrc::k_disconnected, "peer closed the socket");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SLIM_TRY_VOID(wait(POLLIN));
        continue;
      }
      if (errno == ECONNRESET) return fail(ExecErrc::k_disconnected, "connection reset");
      return fail(ExecErrc::k_io, std::string("recv: ") + std::strerror(errno));
    }
    return {};
  }

 private:
  Expected<void, ExecError> wait(short events) {
    pollfd fds[2] = {{m_fd, events, 0}, {m_cancel, POLLIN, 0}};
    const nfds_t count = m_cancel >= 0 ? 2 : 1;
    for (int attempt = 0; attempt < 1000; ++attempt) {  // bounded: EINTR only repeats
      const int rc = ::poll(fds, count, static_cast<int>(m_timeout.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return fail(ExecErrc::k_io, std::string("poll: ") + std::strerror(errno));
      if (rc == 0) return fail(ExecErrc::k_timeout, "no progress within " + std::to_string(m_timeout.count()) + " ms");
      if (count == 2 && fds[1].revents != 0) return fail(ExecErrc::k_cancelled, "stopping");
      return {};
    }
    return fail(ExecErrc::k_io, "poll interrupted too often");
  }

  int m_fd;
  std::chrono::milliseconds m_timeout;
  int m_cancel;
};

class TlsStream final : public ExecStream {
 public:
  explicit TlsStream(std::unique_ptr<transfer::TlsChannel> channel) : m_channel(std::move(channel)) {}
  ~TlsStream() override { m_channel->close(); }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;
  Expected<void, ExecError> write_all(std::span<const std::byte> bytes) override {
    auto ok = m_channel->write_all(bytes);
    if (!ok) return Unexpected(from_transfer(ok.error()));
    return {};
  }
  Expected<void, ExecError> read_exact(std::span<std::byte> dest) override {
    auto ok = m_channel->read_exact(dest);
    if (!ok) return Unexpected(from_transfer(ok.error()));
    return {};
  }

 private:
  std::unique_ptr<transfer::TlsChannel> m_channel;
};

}  // namespace

std::unique_ptr<ExecStream> make_fd_stream(int fd, std::chrono::milliseconds timeout, int cancel_fd) {
  return std::make_unique<FdStream>(fd, timeout, cancel_fd);
}

std::unique_ptr<ExecStream> make_tls_stream(std::unique_ptr<transfer::TlsChannel> channel) {
  return std::make_unique<TlsStream>(std::move(channel));
}

Expected<std::unique_ptr<ExecStream>, ExecError> connect_unix(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) return fail(ExecErrc::k_invalid_argument, "bad socket path '" + path + "'");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ExecErrc::k_io, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(ExecErrc::k_io, "connect " + path + ": " + std::strerror(err));
  }
  return make_fd_stream(fd, timeout);
}

bool split_address(const std::string& address, std::string& host, std::uint16_t& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= address.size()) return false;
  host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long value = 0;
  for (std::size_t i = colon + 1; i < address.size(); ++i) {
    const char c = address[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) return false;
  }
  if (value == 0) return false;
  port = static_cast<std::uint16_t>(value);
  return !host.empty();
}

Expected<std::unique_ptr<ExecStream>, ExecError> connect_tls(const std::string& address,
                                                           std::shared_ptr<transfer::TlsContext> context,
                                                           std::chrono::milliseconds timeout) {
  std::string host;
  std::uint16_t port = 0;
  if (!split_address(address, host, port)) return fail(ExecErrc::k_invalid_argument, "bad address '" + address + "'");
  auto socket = transfer::connect_tcp(host, port, timeout);
  if (!socket) return Unexpected(from_transfer(socket.error()));
  auto channel = transfer::TlsChannel::handshake(std::move(context), std::move(socket).value(), timeout);
  if (!channel) return Unexpected(from_transfer(channel.error()));
  return make_tls_stream(std::move(channel).value());
}

Expected<Frame, ExecError> read_frame(ExecStream& stream) {
  std::byte head[k_exec_header_size];
  SLIM_TRY_VOID(stream.read_exact(head));
  SLIM_TRY(auto header, decode_frame_header(head));
  Frame frame{header, std::vector<std::byte>(header.length)};
  SLIM_TRY_VOID(stream.read_exact(frame.body));
  return frame;
}

}  // namespace slimcache::agent::exec
