#pragma once
// The sd_notify protocol without libsystemd: datagrams of "KEY=value" lines sent to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name written "@name").
//
// Success: each call sends one datagram (messages arrive in call order). With no socket
// (not started by systemd, or Type= is not notify) every call is a successful no-op.
// Failure: NotifyError naming the socket and the errno text; the daemon logs it and goes on
// (systemd will notice a missing READY=1 or WATCHDOG=1 by itself).
// Threads: calls may come from any thread (one sendto per message on a socket created once).
// Ownership: the notifier owns its socket descriptor.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "solver/expected.hpp"

namespace slimcache::platform {

struct NotifyError {
  std::string message;
};

class SystemdNotifier {
 public:
  // Disabled notifier.
  SystemdNotifier() = default;
  // `socket` as in $NOTIFY_SOCKET: "/run/systemd/notify" or "@abstract"; "" = disabled.
  explicit SystemdNotifier(std::string socket);
  // Reads $NOTIFY_SOCKET.
  [[nodiscard]] static SystemdNotifier from_environment();
  ~SystemdNotifier();
  SystemdNotifier(SystemdNotifier&& other) noexcept;
  SystemdNotifier& operator=(SystemdNotifier&& other) noexcept;
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  [[nodiscard]] bool enabled() const { return !m_socket.empty(); }
  [[nodiscard]] const std::string& socket() const { return m_socket; }

  // READY=1 (optionally with STATUS= in the same datagram): only once really serving.
  Expected<void, NotifyError> ready(std::string_view status = {});
  // STATUS=<one line>; newlines are replaced by spaces.
  Expected<void, NotifyError> status(std::string_view text);
  // WATCHDOG=1: from the main loop, at least every watchdog_interval()/2.
  Expected<void, NotifyError> watchdog();
  // RELOADING=1 with MONOTONIC_USEC= (Type=notify-reload needs it); send ready() when done.
  Expected<void, NotifyError> reloading();
  // STOPPING=1 (optionally with STATUS=).
  Expected<void, NotifyError> stopping(std::string_view status = {});
  // Any message, e.g. "ERRNO=5" or "EXTEND_TIMEOUT_USEC=...". Lines separated by '\n'.
  Expected<void, NotifyError> send(std::string_view message);

 private:
  std::string m_socket;
  int m_fd = -1;
};

// The watchdog interval systemd expects pings within ($WATCHDOG_USEC), if it applies to
// process `pid` ($WATCHDOG_PID unset, or equal to pid). nullopt: no watchdog, or a value
// that is not a positive decimal number.
[[nodiscard]] std::optional<std::chrono::microseconds> parse_watchdog_usec(const char* watchdog_usec,
                                                                         const char* watchdog_pid, long pid);
// The same from the process environment.
[[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace slimcache::platform
