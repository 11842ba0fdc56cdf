// Hostile input that the module tests leave out: keys rotated away, every single-bit
// tamper and every truncation of a sealed packet, a stream frame claiming 4 GiB sent to a
// live gossip agent, and admin clients of the wrong group (real SO_PEERCRED: the client
// runs in a forked child that setresuid()s to nobody; needs root, skipped otherwise).
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <filesystem>
#include <random>
#include <thread>

#include "agent/admin/admin_client.hpp"
#include "agent/admin/admin_server.hpp"
#include "agent/gossip/gossip_agent.hpp"
#include "agent/gossip/keyring.hpp"
#include "agent/gossip/wire.hpp"

namespace slimcache::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

gossip::Key key_of(std::uint8_t b) {
  gossip::Key k{};
  k.fill(b);
  return k;
}

gossip::Bytes plain_packet(const std::string& sender) {
  gossip::Bytes out = gossip::encode_envelope({sender, 1, 1});
  const auto m = gossip::encode_message(gossip::Ping{1, "sut", 2});
  out.insert(out.end(), m.begin(), m.end());
  return out;
}

TEST(HostileGossip, PacketSealedWithAKeyRotatedAwayIsUnknownKey) {
  gossip::Keyring old_ring;
  ASSERT_TRUE(old_ring.install(key_of(1)).has_value());
  gossip::Keyring sut;
  ASSERT_TRUE(sut.install(key_of(1)).has_value());
  ASSERT_TRUE(sut.install(key_of(2)).has_value());
  ASSERT_TRUE(sut.use(key_of(2)).has_value());
  ASSERT_TRUE(sut.remove(key_of(1)).has_value());
  const auto sealed = old_ring.seal(plain_packet("peer"), "lab", gossip::Nonce{});

  auto opened = sut.open(sealed, "lab");

  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), gossip::DropReason::unknown_key);
}

TEST(HostileGossip, EverySingleBitFlipOfASealedPacketIsRefused) {
  gossip::Keyring sut;
  ASSERT_TRUE(sut.install(key_of(7)).has_value());
  const auto sealed = sut.seal(plain_packet("peer"), "lab", gossip::Nonce{1, 2, 3});
  ASSERT_TRUE(sut.open(sealed, "lab").has_value());

  std::size_t opened = 0;
  for (std::size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    auto tampered = sealed;
    tampered[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    if (sut.open(tampered, "lab").has_value()) ++opened;
  }

  EXPECT_EQ(opened, 0u) << "of " << sealed.size() * 8 << " single-bit flips";
}

TEST(HostileGossip, EveryTruncationOfASealedPacketIsRefused) {
  gossip::Keyring sut;
  ASSERT_TRUE(sut.install(key_of(7)).has_value());
  const auto sealed = sut.seal(plain_packet("peer"), "lab", gossip::Nonce{});

  std::size_t opened = 0;
  for (std::size_t n = 0; n < sealed.size(); ++n)
    if (sut.open(std::span(sealed.data(), n), "lab").has_value()) ++opened;

  EXPECT_EQ(opened, 0u);
}

TEST(HostileGossip, AStreamFrameClaimingFourGibibytesIsClosedAndTheAgentKeepsServing) {
  asio::io_context io;
  auto config = gossip::GossipConfig::local("sut", "127.0.0.1:0");
  config.label = "lab";
  gossip::Keyring ring;
  ASSERT_TRUE(ring.install(key_of(3)).has_value());
  gossip::GossipAgent sut(io, config, std::move(ring));
  ASSERT_TRUE(sut.start().has_value());
  const auto [ip, port] = *gossip::parse_address(sut.address());
  asio::ip::tcp::socket attacker(io);
  attacker.connect({ip, port});
  const std::uint8_t claim[] = {0xff, 0xff, 0xff, 0xff, 'S', 'G'};
  asio::write(attacker, asio::buffer(claim));

  // The agent reads the length, refuses it and closes: the attacker's read ends (bounded).
  std::array<std::uint8_t, 16> buf{};
  asio::error_code read_error;
  bool closed = false;
  attacker.async_read_some(asio::buffer(buf), [&](const asio::error_code& ec, std::size_t) {
    read_error = ec;
    closed = true;
  });
  for (int i = 0; i < 200 && !closed; ++i) io.run_for(50ms);

  ASSERT_TRUE(closed) << "the agent kept a connection that claimed 4 GiB open for 10 s";
  // Closed with our unread bytes pending: an orderly close or a reset, never data.
  EXPECT_TRUE(read_error == asio::error::eof || read_error == asio::error::connection_reset) << read_error.message();
  EXPECT_GE(sut.io_errors(), 1u);
  EXPECT_TRUE(sut.running());
  // It still serves: a second agent joins it.
  gossip::Keyring ring2;
  ASSERT_TRUE(ring2.install(key_of(3)).has_value());
  auto peer_config = gossip::GossipConfig::local("peer", "127.0.0.1:0");
  peer_config.label = "lab";
  gossip::GossipAgent peer(io, peer_config, std::move(ring2));
  ASSERT_TRUE(peer.start().has_value());
  peer.join({sut.address()});
  for (int i = 0; i < 200 && sut.members().size() < 2; ++i) io.run_for(50ms);
  EXPECT_EQ(sut.members().size(), 2u);
  peer.stop();
  sut.stop();
}

// ---------------------------------------------------------------- admin socket
class HostileAdmin : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another uid/gid";
    char tmpl[] = "/tmp/slimcache-hostile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    ::chmod(m_dir.c_str(), 0755);
    m_options.path = (m_dir / "admin.sock").string();
    m_options.mode = 0666;  // world-connectable: only the credential check can refuse
  }
  void TearDown() override {
    if (m_sut) asio::post(m_io, [this] { m_sut->stop(); });
    m_work.reset();
    if (m_thread.joinable()) m_thread.join();
    m_sut.reset();
    if (!m_dir.empty()) fs::remove_all(m_dir);
  }
  void start(admin::AccessPolicy policy) {
    m_sut = std::make_unique<admin::AdminServer>(m_io, m_options, policy);
    m_sut->add_command("echo", [](const admin::Request&, const admin::PeerCredentials& peer, admin::Reply reply) {
      reply.result({{"uid", peer.uid}, {"gid", peer.gid}});
    });
    auto started = m_sut->start();
    ASSERT_TRUE(started.has_value()) << started.error().message;
    m_thread = std::thread([this] { m_io.run(); });
  }
  // Runs one `echo` as uid nobody with primary group `gid` in a forked child: the child's
  // exit status is 0 when answered, 1 when refused with permission_denied, 2 otherwise.
  int echo_as_nobody(gid_t gid) {
    const pid_t child = ::fork();
    if (child == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(3);
      auto r = admin::call({m_options.path, 10s}, "echo");
      if (r.has_value()) ::_exit(0);
      ::_exit(r.error().code == admin::ErrorCode::k_permission_denied ? 1 : 2);
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }

  fs::path m_dir;
  admin::AdminServer::Options m_options;
  asio::io_context m_io;
  asio::executor_work_guard<asio::io_context::executor_type> m_work{m_io.get_executor()};
  std::unique_ptr<admin::AdminServer> m_sut;
  std::thread m_thread;
};

TEST_F(HostileAdmin, ClientOfAnotherGroupIsRefusedAndTheServerKeepsServing) {
  start(admin::AccessPolicy{0, gid_t{4242}});

  const int outcome = echo_as_nobody(65534);

  EXPECT_EQ(outcome, 1) << "0 answered, 1 refused, 2 other error, 3 setup failed";
  EXPECT_GE(m_sut->counters().refused_credentials, 1u);
  EXPECT_TRUE(admin::call({m_options.path, 10s}, "echo").has_value());  // root still served
}

TEST_F(HostileAdmin, ClientOfTheAdminGroupIsServedThoughNotTheDaemonsUid) {
  start(admin::AccessPolicy{0, gid_t{4242}});

  const int outcome = echo_as_nobody(4242);

  EXPECT_EQ(outcome, 0) << "0 answered, 1 refused, 2 other error, 3 setup failed";
}

}  // namespace
}  // namespace slimcache::agent
