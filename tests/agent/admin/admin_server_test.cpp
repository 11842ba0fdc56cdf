#include "agent/admin/admin_server.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "agent/admin/admin_client.hpp"

namespace slimcache::agent::admin {
namespace {

namespace fs = std::filesystem;

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slimcache-admin-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    ::chmod(m_dir.c_str(), 0755);
    m_options.path = (m_dir / "admin.sock").string();
    m_options.idle_timeout = std::chrono::milliseconds(60'000);
  }
  void TearDown() override {
    if (m_sut) {
      asio::post(m_io, [this] { m_sut->stop(); });
    }
    m_work.reset();
    if (m_thread.joinable()) m_thread.join();
    m_sut.reset();
    fs::remove_all(m_dir);
  }
  // Starts the server on a background io_context thread.
  void start(AdminServer::Options options, AccessPolicy policy = {::geteuid(), std::nullopt}) {
    m_sut = std::make_unique<AdminServer>(m_io, options, policy);
    m_sut->add_command("echo", [](const Request& r, const PeerCredentials& peer, Reply reply) {
      reply.result({{"args", r.args}, {"uid", peer.uid}});
    });
    m_sut->add_command("count", [](const Request& r, const PeerCredentials&, Reply reply) {
      const int n = r.args.value("n", 0);
      for (int i = 1; i <= n; ++i) reply.progress({{"done", i}, {"total", n}});
      reply.result({{"counted", n}});
    });
    m_sut->add_command("never", [](const Request&, const PeerCredentials&, Reply) {});
    auto started = m_sut->start();
    ASSERT_TRUE(started.has_value()) << started.error().message;
    m_thread = std::thread([this] { m_io.run(); });
  }
  ClientOptions client() const { return {m_options.path, std::chrono::milliseconds(10'000)}; }

  fs::path m_dir;
  AdminServer::Options m_options;
  asio::io_context m_io;
  asio::executor_work_guard<asio::io_context::executor_type> m_work{m_io.get_executor()};
  std::unique_ptr<AdminServer> m_sut;
  std::thread m_thread;
};

TEST_F(AdminServerTest, AnswersARequestAndReportsThePeer) {
  start(m_options);
  auto result = call(client(), "echo", {{"x", 1}});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ((*result)["args"]["x"], 1);
  EXPECT_EQ((*result)["uid"], ::geteuid());
}

TEST_F(AdminServerTest, SocketFileHasTheConfiguredMode) {
  m_options.mode = 0660;
  start(m_options);
  struct stat st {};
  ASSERT_EQ(::stat(m_options.path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(AdminServerTest, StreamsProgressBeforeTheResult) {
  start(m_options);
  std::vector<int> seen;
  auto result = call(client(), "count", {{"n", 5}}, [&](const nlohmann::json& p) { seen.push_back(p["done"]); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ((*result)["counted"], 5);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_F(AdminServerTest, UnknownCommandIsAnErrorAndListsAreBuiltIn) {
  start(m_options);
  auto bad = call(client(), "frobnicate");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::k_unknown_command);
  auto list = call(client(), "commands");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ((*list)["commands"], nlohmann::json({"count", "echo", "never"}));
}

TEST_F(AdminServerTest, ClientSaysTheDaemonIsNotRunning) {
  auto sut = call(client(), "status");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ErrorCode::k_unavailable);
  EXPECT_NE(sut.error().message.find("not running"), std::string::npos);
}

TEST_F(AdminServerTest, ClientTimesOutWhenNoAnswerComes) {
  start(m_options);
  auto sut = call({m_options.path, std::chrono::milliseconds(50)}, "never");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ErrorCode::k_timeout);
}

TEST_F(AdminServerTest, RefusesASecondDaemonButReplacesAStaleSocket) {
  start(m_options);
  asio::io_context other;
  AdminServer second(other, m_options, {::geteuid(), std::nullopt});
  auto refused = second.start();
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("already"), std::string::npos);
}

TEST(AdminServerStale, ReplacesAStaleSocketFile) {
  char tmpl[] = "/tmp/slimcache-admin-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/admin.sock";
  {
    asio::io_context io;
    asio::local::stream_protocol::acceptor stale(io, asio::local::stream_protocol::endpoint(path));
  }  // closed without unlink: a stale socket file stays behind
  ASSERT_TRUE(fs::exists(path));
  asio::io_context io;
  AdminServer::Options options;
  options.path = path;
  AdminServer sut(io, options, {::geteuid(), std::nullopt});
  EXPECT_TRUE(sut.start().has_value());
  sut.stop();
  EXPECT_FALSE(fs::exists(path));
  fs::remove_all(tmpl);
}

TEST(AdminServerStale, RefusesToReplaceARegularFile) {
  char tmpl[] = "/tmp/slimcache-admin-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/admin.sock";
  { std::FILE* f = std::fopen(path.c_str(), "w"); std::fclose(f); }
  asio::io_context io;
  AdminServer::Options options;
  options.path = path;
  AdminServer sut(io, options, {::geteuid(), std::nullopt});
  auto r = sut.start();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("not a socket"), std::string::npos);
  EXPECT_TRUE(fs::is_regular_file(path));
  fs::remove_all(tmpl);
}

TEST_F(AdminServerTest, TooManyConnectionsAreToldBusyAndTheDaemonKeepsServing) {
  m_options.max_connections = 2;
  start(m_options);
  // Two idle connections fill the server.
  std::vector<int> idle;
  for (int i = 0; i < 2; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, m_options.path.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    idle.push_back(fd);
  }
  // Make sure both are registered before the third arrives: a request on each.
  auto busy = call(client(), "echo");
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, ErrorCode::k_busy);
  for (int fd : idle) ::close(fd);
  // Once they are gone, service resumes (bounded retries: the close is asynchronous).
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) served = call(client(), "echo").has_value();
  EXPECT_TRUE(served);
  EXPECT_GE(m_sut->counters().refused_busy, 1u);
}

TEST_F(AdminServerTest, GarbageOnTheSocketIsAnsweredAndCounted) {
  start(m_options);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, m_options.path.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char frame[] = {0, 0, 0, 3, 'x', 'y', 'z'};
  ASSERT_EQ(::send(fd, frame, sizeof frame, 0), static_cast<ssize_t>(sizeof frame));
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 4);
  auto response = decode_response(std::string_view(buf + 4, static_cast<std::size_t>(n - 4)));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->error.code, ErrorCode::k_bad_request);
  ::close(fd);
  EXPECT_TRUE(call(client(), "echo").has_value());
}

TEST_F(AdminServerTest, RefusesAClientWithoutTheRightUid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid";
  // Socket world-connectable so that only the credential check can refuse.
  m_options.mode = 0666;
  start(m_options, AccessPolicy{0, std::nullopt});
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    auto r = call({m_options.path, std::chrono::milliseconds(10'000)}, "echo");
    if (!r.has_value()) std::fprintf(stderr, "child: %s: %s\n", to_string(r.error().code), r.error().message.c_str());
    ::_exit(!r.has_value() && r.error().code == ErrorCode::k_permission_denied ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GE(m_sut->counters().refused_credentials, 1u);
}

TEST(AccessPolicy, AllowsRootOwnerAndGroupOnly) {
  const AccessPolicy policy{1000, gid_t{2000}};
  EXPECT_TRUE(is_allowed({1, 0, 0}, policy));
  EXPECT_TRUE(is_allowed({1, 1000, 1000}, policy));
  EXPECT_TRUE(is_allowed({1, 1234, 2000}, policy));
  EXPECT_FALSE(is_allowed({1, 1234, 1234}, policy));
  EXPECT_FALSE(is_allowed({1, 1234, 2000}, AccessPolicy{1000, std::nullopt}));
}

}  // namespace
}  // namespace slimcache::agent::admin
