// Integration: slimcached as a real process on loopback, observed through a NOTIFY_SOCKET
// the test creates and through its admin socket. Every wait is bounded.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/admin/admin_client.hpp"
#include "agent/engine/engine_segment.hpp"
#include "tests/agent/model/checkpoint_fixture.hpp"

namespace slimcache::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DaemonProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slimcached-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    m_notify_path = (m_dir / "notify.sock").string();
    m_notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, m_notify_path.c_str());
    ASSERT_EQ(::bind(m_notify_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    write_config("info");
  }
  void TearDown() override {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
    ::close(m_notify_fd);
    fs::remove_all(m_dir);
  }
  void write_config(const std::string& level, const std::string& extra = "") {
    std::ofstream(m_dir / "slimcached.toml") << "[node]\nname = \"itest\"\nstate_dir = \"" << (m_dir / "state").string()
                                             << "\"\n[admin]\nsocket_path = \"" << socket_path()
                                             << "\"\n[logging]\nlevel = \"" << level << "\"\n"
                                             << extra;
  }
  std::string socket_path() const { return (m_dir / "admin.sock").string(); }
  void spawn() {
    m_pid = ::fork();
    ASSERT_GE(m_pid, 0);
    if (m_pid == 0) {
      ::setenv("NOTIFY_SOCKET", m_notify_path.c_str(), 1);
      const std::string cfg = (m_dir / "slimcached.toml").string();
      const std::string err = (m_dir / "stderr.log").string();
      std::freopen(err.c_str(), "w", stderr);
      ::execl(SLIMCACHED_PATH, "slimcached", "--config", cfg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  // Next notify datagram, or "" after `timeout`.
  std::string next_notify(std::chrono::milliseconds timeout = 10s) {
    pollfd p{m_notify_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    const ssize_t n = ::recv(m_notify_fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  int wait_exit(std::chrono::seconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
      if (r == m_pid) {
        m_pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 10);
    }
    return -1;
  }
  admin::ClientOptions client() const { return {socket_path(), 5s}; }

  fs::path m_dir;
  std::string m_notify_path;
  int m_notify_fd = -1;
  pid_t m_pid = -1;
};

TEST_F(DaemonProcessTest, ReadyAfterServingThenStoppingOnSigterm) {
  spawn();
  const std::string ready = next_notify();
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << ready;
  EXPECT_NE(ready.find("STATUS="), std::string::npos);
  // READY means serving: the admin socket answers at once.
  auto status = admin::call(client(), "status");
  ASSERT_TRUE(status.has_value()) << status.error().message;
  EXPECT_EQ((*status)["node"], "itest");
  EXPECT_EQ((*status)["state"], "serving");
  ASSERT_EQ(::kill(m_pid, SIGTERM), 0);
  EXPECT_NE(next_notify().find("STOPPING=1"), std::string::npos);
  EXPECT_EQ(wait_exit(), 0);
  EXPECT_FALSE(fs::exists(socket_path()));
}

TEST_F(DaemonProcessTest, SighupAppliesAGoodConfigAndKeepsTheRunningOneOnABadConfig) {
  spawn();
  ASSERT_NE(next_notify().find("READY=1"), std::string::npos);
  // A good change of a live key.
  write_config("debug");
  ASSERT_EQ(::kill(m_pid, SIGHUP), 0);
  EXPECT_NE(next_notify().find("RELOADING=1"), std::string::npos);
  EXPECT_NE(next_notify().find("READY=1"), std::string::npos);
  auto cfg = admin::call(client(), "config");
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ((*cfg)["logging"]["level"], "debug");
  // A bad file: rejected, the running configuration stays.
  write_config("debug", "[bogus]\nkey = 1\n");
  auto plan = admin::call(client(), "reload");
  ASSERT_TRUE(plan.has_value());
  EXPECT_FALSE((*plan)["accepted"].get<bool>());
  EXPECT_FALSE((*plan)["errors"].empty());
  auto still = admin::call(client(), "config");
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ((*still)["logging"]["level"], "debug");
  EXPECT_TRUE(admin::call(client(), "status").has_value());
}

TEST_F(DaemonProcessTest, InvalidConfigExitsWithCodeTwoAndSaysWhy) {
  write_config("loud");
  spawn();
  EXPECT_EQ(wait_exit(), 2);
  std::ifstream err(m_dir / "stderr.log");
  const std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<3>"), std::string::npos) << text;
  EXPECT_NE(text.find("logging.level"), std::string::npos) << text;
}

TEST_F(DaemonProcessTest, ImportsACheckpointThenListsPinsAndEvictsExperts) {
  spawn();
  ASSERT_NE(next_notify().find("READY=1"), std::string::npos);
  auto none = admin::call(client(), "cache.ls");
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message.find("import"), std::string::npos);

  testing::write_checkpoint(m_dir / "ckpt", {testing::Family::k_qwen3_moe, 3, 8, 2, 32, 16, 2, config::DType::k_bf16});
  int progress = 0;
  auto imported = admin::call({socket_path(), 60s}, "import", {{"model_dir", (m_dir / "ckpt").string()}},
                              [&](const nlohmann::json&) { ++progress; });
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_EQ((*imported)["experts"], 24);
  EXPECT_EQ((*imported)["model"], "qwen3_moe");
  EXPECT_GE(progress, 1);

  auto ls = admin::call(client(), "cache.ls");
  ASSERT_TRUE(ls.has_value()) << ls.error().message;
  EXPECT_EQ((*ls)["experts"].size(), 24u);
  ASSERT_TRUE(admin::call(client(), "cache.pin", {{"layer", 2}, {"expert", 7}}).has_value());
  auto after = admin::call(client(), "cache.ls");
  bool resident = false;
  for (const auto& e : (*after)["experts"]) resident |= e["layer"] == 2 && e["expert"] == 7 && e["resident"].get<bool>();
  EXPECT_TRUE(resident);
  auto bad = admin::call(client(), "cache.pin", {{"layer", 3}, {"expert", 0}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, admin::ErrorCode::k_bad_arguments);
  ASSERT_TRUE(admin::call(client(), "cache.unpin", {{"layer", 2}, {"expert", 7}}).has_value());
  ASSERT_TRUE(admin::call(client(), "cache.evict", {{"layer", 2}, {"expert", 7}}).has_value());

  // A local engine reports router decisions through the engine segment.
  auto status = admin::call(client(), "status");
  ASSERT_TRUE(status.has_value());
  const std::string shm = (*status)["cache"]["shm_name"];
  auto engine = engine::EngineSegment::open(shm);
  ASSERT_TRUE(engine.has_value()) << engine.error().message;
  const std::uint16_t ids[] = {1, 6};
  EXPECT_EQ(engine->record(0, ids), engine::RecordResult::k_recorded);
  EXPECT_EQ(engine->record(0, ids), engine::RecordResult::k_recorded);

  // A restarted daemon finds its model and experts again.
  ASSERT_EQ(::kill(m_pid, SIGTERM), 0);
  EXPECT_EQ(wait_exit(), 0);
  spawn();
  std::string ready;
  for (int i = 0; i < 5 && ready.find("READY=1") == std::string::npos; ++i) ready = next_notify();
  ASSERT_NE(ready.find("READY=1"), std::string::npos);
  auto again = admin::call(client(), "cache.ls");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ((*again)["experts"].size(), 24u);
}

}  // namespace
}  // namespace slimcache::agent
