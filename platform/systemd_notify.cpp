#include "platform/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace slimcache::platform {

namespace {

Unexpected<NotifyError> fail(const std::string& socket, const std::string& what) {
  return Unexpected(NotifyError{"sd_notify to " + socket + ": " + what});
}

std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

SystemdNotifier::SystemdNotifier(std::string socket) : m_socket(std::move(socket)) {
  // Created here, not on first use, so that concurrent calls never race on it.
  if (!m_socket.empty()) m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

SystemdNotifier SystemdNotifier::from_environment() {
  const char* s = std::getenv("NOTIFY_SOCKET");
  return SystemdNotifier(s == nullptr ? std::string() : std::string(s));
}

SystemdNotifier::~SystemdNotifier() {
  if (m_fd >= 0) ::close(m_fd);
}

SystemdNotifier::SystemdNotifier(SystemdNotifier&& other) noexcept
    : m_socket(std::move(other.m_socket)), m_fd(std::exchange(other.m_fd, -1)) {
  other.m_socket.clear();
}

SystemdNotifier& SystemdNotifier::operator=(SystemdNotifier&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_socket = std::move(other.m_socket);
    other.m_socket.clear();
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

Expected<void, NotifyError> SystemdNotifier::send(std::string_view message) {
  if (m_socket.empty()) return {};
  if (m_socket.front() != '/' && m_socket.front() != '@')
    return fail(m_socket, "unsupported address (only absolute paths and @abstract names)");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (m_socket.size() >= sizeof(addr.sun_path)) return fail(m_socket, "socket path too long");
  std::memcpy(addr.sun_path, m_socket.data(), m_socket.size());
  if (m_socket.front() == '@') addr.sun_path[0] = '\0';  // abstract namespace
  // Abstract names are not NUL-terminated: the length covers exactly the name.
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_socket.size() +
                                          (m_socket.front() == '@' ? 0 : 1));
  if (m_fd < 0) return fail(m_socket, "could not create a datagram socket");
  for (int attempt = 0; attempt < 8; ++attempt) {  // bounded retry on EINTR
    const ssize_t n = ::sendto(m_fd, message.data(), message.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&addr), len);
    if (n >= 0) {
      if (static_cast<std::size_t>(n) != message.size()) return fail(m_socket, "short write");
      return {};
    }
    if (errno != EINTR) return fail(m_socket, std::strerror(errno));
  }
  return fail(m_socket, "interrupted");
}

Expected<void, NotifyError> SystemdNotifier::ready(std::string_view status_text) {
  if (status_text.empty()) return send("READY=1");
  return send("READY=1\nSTATUS=" + one_line(status_text));
}

Expected<void, NotifyError> SystemdNotifier::status(std::string_view text) {
  return send("STATUS=" + one_line(text));
}

Expected<void, NotifyError> SystemdNotifier::watchdog() { return send("WATCHDOG=1"); }

Expected<void, NotifyError> SystemdNotifier::reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec = static_cast<long long>(ts.tv_sec) * 1'000'000LL + ts.tv_nsec / 1000;
  return send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

Expected<void, NotifyError> SystemdNotifier::stopping(std::string_view status_text) {
  if (status_text.empty()) return send("STOPPING=1");
  return send("STOPPING=1\nSTATUS=" + one_line(status_text));
}

std::optional<std::chrono::microseconds> parse_watchdog_usec(const char* watchdog_usec, const char* watchdog_pid,
                                                             long pid) {
  auto parse_positive = [](const char* s) -> std::optional<unsigned long long> {
    if (s == nullptr || *s == '\0') return std::nullopt;
    unsigned long long v = 0;
    for (const char* p = s; *p != '\0'; ++p) {
      if (*p < '0' || *p > '9') return std::nullopt;
      if (v > (~0ull - 9) / 10) return std::nullopt;  // overflow
      v = v * 10 + static_cast<unsigned>(*p - '0');
    }
    if (v == 0) return std::nullopt;
    return v;
  };
  const auto usec = parse_positive(watchdog_usec);
  if (!usec) return std::nullopt;
  if (watchdog_pid != nullptr && *watchdog_pid != '\0') {
    const auto owner = parse_positive(watchdog_pid);
    if (!owner || *owner != static_cast<unsigned long long>(pid)) return std::nullopt;
  }
  if (*usec > static_cast<unsigned long long>(std::chrono::microseconds::max().count())) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec));
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  return parse_watchdog_usec(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                             static_cast<long>(::getpid()));
}

}  // namespace slimcache::platform
