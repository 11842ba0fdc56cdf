#include "agent/transfer/tcp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace slimcache::agent::transfer {
namespace {

Unexpected<TransferError> sys_error(TransferErrc code, const std::string& what, int err) {
  return Unexpected(TransferError{code, what + ": " + std::strerror(err)});
}

bool set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

void tune(int fd) {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

Expected<addrinfo*, TransferError> resolve(const std::string& host, std::uint16_t port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument,
                                    "not a numeric address: '" + host + "' (" + ::gai_strerror(rc) + ")"});
  }
  return result;
}

}  // namespace

TcpSocket::~TcpSocket() { close(); }

TcpSocket& TcpSocket::operator=(TcpSocket&& other) noexcept {
  if (this != &other) {
    close();
    m_fd = other.m_fd;
    other.m_fd = -1;
  }
  return *this;
}

void TcpSocket::close() {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
}

void TcpSocket::shutdown_and_close() {
  if (m_fd >= 0) (void)::shutdown(m_fd, SHUT_WR);
  close();
}

Expected<void, TransferError> TcpSocket::wait(WaitFor what, IoTimeout timeout, int cancel_fd) const {
  pollfd fds[2] = {};
  fds[0].fd = m_fd;
  fds[0].events = what == WaitFor::k_read ? POLLIN : POLLOUT;
  fds[1].fd = cancel_fd;
  fds[1].events = POLLIN;
  const nfds_t count = cancel_fd >= 0 ? 2 : 1;
  for (int attempt = 0; attempt < 1000; ++attempt) {  // EINTR retries, bounded
    const int rc = ::poll(fds, count, static_cast<int>(timeout.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return sys_error(TransferErrc::k_io, "poll", errno);
    if (rc == 0) {
      return Unexpected(TransferError{TransferErrc::k_timeout,
                                      "no progress for " + std::to_string(timeout.count()) + " ms"});
    }
    if (count == 2 && (fds[1].revents & POLLIN) != 0) return Unexpected(TransferError{TransferErrc::k_cancelled, "stopping"});
    return {};  // readable/writable or an error/hang-up the next call will report
  }
  return Unexpected(TransferError{TransferErrc::k_io, "poll interrupted too often"});
}

Expected<TcpSocket, TransferError> connect_tcp(const std::string& host, std::uint16_t port, IoTimeout timeout) {
  SLIM_TRY(addrinfo * info, resolve(host, port, false));
  const int fd = ::socket(info->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(info);
    return sys_error(TransferErrc::k_io, "socket", errno);
  }
  TcpSocket socket(fd);
  if (!set_nonblocking(fd)) {
    ::freeaddrinfo(info);
    return sys_error(TransferErrc::k_io, "fcntl", errno);
  }
  tune(fd);
  const int rc = ::connect(fd, info->ai_addr, info->ai_addrlen);
  const int err = errno;
  ::freeaddrinfo(info);
  const std::string where = host + ":" + std::to_string(port);
  if (rc != 0 && err != EINPROGRESS) return sys_error(TransferErrc::k_connect, "connect " + where, err);
  if (rc != 0) {
    auto waited = socket.wait(WaitFor::k_write, timeout);
    if (!waited) {
      auto e = waited.error();
      e.message = "connect " + where + ": " + e.message;
      return Unexpected(e);
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    (void)::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) return sys_error(TransferErrc::k_connect, "connect " + where, so_error);
  }
  return socket;
}

Expected<TcpListener, TransferError> TcpListener::listen(const std::string& host, std::uint16_t port, int backlog) {
  SLIM_TRY(addrinfo * info, resolve(host, port, true));
  const int fd = ::socket(info->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(info);
    return sys_error(TransferErrc::k_io, "socket", errno);
  }
  TcpListener listener;
  listener.m_socket = TcpSocket(fd);
  const int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const int rc = ::bind(fd, info->ai_addr, info->ai_addrlen);
  const int err = errno;
  ::freeaddrinfo(info);
  const std::string where = host + ":" + std::to_string(port);
  if (rc != 0) return sys_error(TransferErrc::k_io, "bind " + where, err);
  if (::listen(fd, backlog) != 0) return sys_error(TransferErrc::k_io, "listen " + where, errno);
  if (!set_nonblocking(fd)) return sys_error(TransferErrc::k_io, "fcntl", errno);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return sys_error(TransferErrc::k_io, "getsockname", errno);
  listener.m_port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                               : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return listener;
}

Expected<TcpSocket, TransferError> TcpListener::accept(IoTimeout timeout, int cancel_fd) const {
  SLIM_TRY_VOID(m_socket.wait(WaitFor::k_read, timeout, cancel_fd));
  const int fd = ::accept4(m_socket.fd(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
      return Unexpected(TransferError{TransferErrc::k_timeout, "no connection ready (another worker took it)"});
    }
    return sys_error(TransferErrc::k_io, "accept", errno);
  }
  tune(fd);
  return TcpSocket(fd);
}

}  // namespace slimcache::agent::transfer
