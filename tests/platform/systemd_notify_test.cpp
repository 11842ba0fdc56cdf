#include "platform/systemd_notify.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace slimcache::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A datagram socket standing in for systemd's notify socket: a path or an abstract name.
class FakeNotifySocket {
 public:
  enum class Kind { k_path, k_abstract };
  explicit FakeNotifySocket(Kind kind) {
    static int counter = 0;
    const std::string unique = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (kind == Kind::k_path) {
      m_dir = std::filesystem::temp_directory_path() / ("slimcache-notify-" + unique);
      std::filesystem::create_directories(m_dir);
      m_name = (m_dir / "notify").string();
    } else {
      m_name = "@slimcache-notify-test-" + unique;
    }
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, m_name.data(), m_name.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_name.size() + 1);
    if (kind == Kind::k_abstract) {
      addr.sun_path[0] = '\0';
      len -= 1;
    }
    m_bound = ::bind(m_fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0;
  }
  ~FakeNotifySocket() {
    ::close(m_fd);
    std::error_code ec;
    if (!m_dir.empty()) std::filesystem::remove_all(m_dir, ec);
  }
  FakeNotifySocket(const FakeNotifySocket&) = delete;
  FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

  [[nodiscard]] const std::string& name() const { return m_name; }
  [[nodiscard]] bool bound() const { return m_bound; }
  // Every datagram already queued, without waiting.
  std::vector<std::string> drain() {
    std::vector<std::string> out;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      const ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) break;
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  std::filesystem::path m_dir;
  std::string m_name;
  int m_fd = -1;
  bool m_bound = false;
};

TEST(SystemdNotifier, SendsTheLifecycleMessagesInOrder) {
  FakeNotifySocket systemd(FakeNotifySocket::Kind::k_path);
  ASSERT_TRUE(systemd.bound());
  SystemdNotifier sut(systemd.name());

  ASSERT_TRUE(sut.ready("serving 3 members").has_value());
  ASSERT_TRUE(sut.status("2 experts\nloading").has_value());
  ASSERT_TRUE(sut.watchdog().has_value());
  ASSERT_TRUE(sut.reloading().has_value());
  ASSERT_TRUE(sut.ready().has_value());
  ASSERT_TRUE(sut.stopping("leaving the cluster").has_value());

  const auto got = systemd.drain();
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0], "READY=1\nSTATUS=serving 3 members");
  EXPECT_EQ(got[1], "STATUS=2 experts loading");
  EXPECT_EQ(got[2], "WATCHDOG=1");
  EXPECT_THAT(got[3], MatchesRegex("RELOADING=1\nMONOTONIC_USEC=[0-9]+"));
  EXPECT_EQ(got[4], "READY=1");
  EXPECT_EQ(got[5], "STOPPING=1\nSTATUS=leaving the cluster");
}

TEST(SystemdNotifier, ReachesAnAbstractSocketNamedWithAnAt) {
  FakeNotifySocket systemd(FakeNotifySocket::Kind::k_abstract);
  ASSERT_TRUE(systemd.bound());
  SystemdNotifier sut(systemd.name());
  ASSERT_TRUE(sut.ready().has_value());
  ASSERT_TRUE(sut.stopping().has_value());
  EXPECT_THAT(systemd.drain(), ElementsAre("READY=1", "STOPPING=1"));
}

TEST(SystemdNotifier, ReadsNotifySocketFromTheEnvironment) {
  FakeNotifySocket systemd(FakeNotifySocket::Kind::k_abstract);
  ::setenv("NOTIFY_SOCKET", systemd.name().c_str(), 1);
  SystemdNotifier sut = SystemdNotifier::from_environment();
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(sut.enabled());
  ASSERT_TRUE(sut.watchdog().has_value());
  EXPECT_THAT(systemd.drain(), ElementsAre("WATCHDOG=1"));
}

TEST(SystemdNotifier, IsANoOpWithoutASocket) {
  ::unsetenv("NOTIFY_SOCKET");
  SystemdNotifier sut = SystemdNotifier::from_environment();
  EXPECT_FALSE(sut.enabled());
  EXPECT_TRUE(sut.ready().has_value());
  EXPECT_TRUE(sut.watchdog().has_value());
}

TEST(SystemdNotifier, ReportsAnUnreachableOrUnsupportedSocket) {
  SystemdNotifier missing("/nonexistent/slimcache/notify");
  auto sent = missing.ready();
  ASSERT_FALSE(sent.has_value());
  EXPECT_THAT(sent.error().message, HasSubstr("/nonexistent/slimcache/notify"));
  SystemdNotifier vsock("vsock:2:1234");
  EXPECT_THAT(vsock.ready().error().message, HasSubstr("unsupported"));
  SystemdNotifier too_long("/" + std::string(200, 'x'));
  EXPECT_THAT(too_long.ready().error().message, HasSubstr("too long"));
}

TEST(SystemdNotifier, KeepsEachThreadsMessagesInOrder) {
  // Few enough messages to fit the receiver's queue (net.unix.max_dgram_qlen, 10 by
  // default), so no sender ever blocks and the test needs no reader thread.
  FakeNotifySocket systemd(FakeNotifySocket::Kind::k_abstract);
  SystemdNotifier sut(systemd.name());
  constexpr int k_threads = 4;
  constexpr int k_each = 2;
  std::vector<std::thread> writers;
  std::vector<std::string> failures(k_threads);
  for (int t = 0; t < k_threads; ++t)
    writers.emplace_back([&sut, &failures, t] {
      for (int i = 0; i < k_each; ++i) {
        auto sent = sut.status(std::to_string(t) + " " + std::to_string(i));
        if (!sent) failures[t] += sent.error().message + "\n";
      }
    });
  for (auto& w : writers) w.join();
  for (const auto& f : failures) EXPECT_EQ(f, "");
  const auto got = systemd.drain();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(k_threads * k_each));
  std::map<int, int> next;
  for (const auto& m : got) {
    int t = -1;
    int i = -1;
    ASSERT_EQ(std::sscanf(m.c_str(), "STATUS=%d %d", &t, &i), 2) << m;
    EXPECT_EQ(i, next[t]) << "thread " << t;
    next[t] = i + 1;
  }
  for (int t = 0; t < k_threads; ++t) EXPECT_EQ(next[t], k_each);
}

TEST(WatchdogUsec, ParsesTheIntervalForThisProcess) {
  EXPECT_EQ(parse_watchdog_usec("30000000", nullptr, 42), std::chrono::seconds(30));
  EXPECT_EQ(parse_watchdog_usec("500", "42", 42), std::chrono::microseconds(500));
  EXPECT_EQ(parse_watchdog_usec("500", "", 42), std::chrono::microseconds(500));
}

TEST(WatchdogUsec, IgnoresIntervalsForOtherProcessesAndGarbage) {
  EXPECT_EQ(parse_watchdog_usec("500", "43", 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec(nullptr, nullptr, 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec("", nullptr, 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec("0", nullptr, 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec("-5", nullptr, 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec("12abc", nullptr, 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec("99999999999999999999999", nullptr, 42), std::nullopt);
  EXPECT_EQ(parse_watchdog_usec("500", "x", 42), std::nullopt);
}

TEST(WatchdogUsec, ReadsTheEnvironment) {
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  const auto sut = watchdog_interval();
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(sut, std::chrono::seconds(2));
  EXPECT_EQ(watchdog_interval(), std::nullopt);
}

}  // namespace
}  // namespace slimcache::platform
