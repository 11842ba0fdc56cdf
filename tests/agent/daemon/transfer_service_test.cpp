// TransferService and the CacheService functions it and the placement use: two or three
// nodes (CacheService + TransferService each, own temporary state directories) on one
// io_context, transfers over TLS on 127.0.0.1. No sleeping: the io_context runs in bounded
// run_for slices until the condition holds.
#include "agent/daemon/transfer_service.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <random>

namespace slimcache::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* k_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* k_other_key = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

model::ModelManifest small_model(std::uint64_t expert_bytes = 64 * 1024) {
  model::ModelManifest m;
  m.model = "xfer-test-model";
  m.scheme = "test";
  m.layers = 2;
  m.experts = 4;
  m.top_k = 1;
  m.hidden = 16;
  m.ffn = 16;
  m.expert_bytes = expert_bytes;
  return m;
}

std::vector<std::byte> payload_for(std::uint32_t layer, std::uint32_t expert, std::size_t size) {
  const std::uint32_t seed = 1000 * layer + expert + 7;
  std::mt19937 rng(seed);
  std::vector<std::byte> out(size);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

// Bounded: at most `slices` slices of 10 ms of io_context work.
template <typename Pred>
bool run_until(asio::io_context& io, Pred done, int slices = 3000) {
  for (int i = 0; i < slices && !done(); ++i) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

struct Node {
  config::DaemonConfig config;
  platform::Logger log{platform::LogLevel::k_warning};
  metrics::Registry metrics;
  std::unique_ptr<CacheService> cache;
  std::unique_ptr<TransferService> transfer;
};

class TransferServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slim-xfer-svc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override {
    for (auto& n : m_nodes) {
      if (n->transfer) n->transfer->stop();
      if (n->cache) n->cache->stop();
    }
    run_until(m_io, [] { return false; }, 2);
    m_nodes.clear();
    std::error_code ec;
    fs::remove_all(m_dir, ec);
  }

  Node& add_node(const std::string& name, std::vector<std::string> keyring = {k_key}, std::uint64_t memory = 1 << 20,
                 std::uint64_t disk = 64ull << 20) {
    auto node = std::make_unique<Node>();
    auto& c = node->config;
    c.node.name = name + "-" + std::to_string(::getpid());
    c.node.state_dir = (m_dir / name).string();
    c.node.data_dir = (m_dir / name / "experts").string();
    fs::create_directories(c.node.data_dir);
    c.budgets.disk = disk;
    c.budgets.memory = memory;
    c.network.bind_address = "127.0.0.1";
    c.network.transfer_port = 0;
    c.cluster.label = "xfer-test";
    c.security.keyring_contents = std::move(keyring);
    c.transfer.io_timeout = 5000ms;
    node->cache = std::make_unique<CacheService>(m_io, c, node->log, platform::SystemClock::instance(), node->metrics);
    EXPECT_TRUE(node->cache->start().has_value());
    node->transfer = std::make_unique<TransferService>(m_io, c, node->log, platform::SystemClock::instance(),
                                                       node->metrics, *node->cache);
    auto started = node->transfer->start();
    EXPECT_TRUE(started.has_value()) << started.error();
    m_nodes.push_back(std::move(node));
    return *m_nodes.back();
  }

  static PeerEndpoint endpoint(const Node& n) { return {n.config.node.name, "127.0.0.1", n.transfer->port()}; }

  // Runs fetch to its end and returns what `done` received.
  Expected<void, std::string> fetch(Node& n, ExpertRef e, std::vector<PeerEndpoint> holders) {
    std::optional<Expected<void, std::string>> got;
    n.transfer->fetch(e, std::move(holders), [&](Expected<void, std::string> r) { got = std::move(r); });
    EXPECT_TRUE(run_until(m_io, [&] { return got.has_value(); })) << "fetch did not finish";
    return got.value_or(Unexpected(std::string("no answer")));
  }

  asio::io_context m_io;
  fs::path m_dir;
  std::vector<std::unique_ptr<Node>> m_nodes;
};

TEST_F(TransferServiceTest, FetchStoresTheExpertOnDiskAndInTheInventory) {
  const auto model = small_model(9u << 20);  // large enough for two stripes of >= 4 MiB
  Node& holder = add_node("holder", {k_key}, 32u << 20);
  Node& sut_node = add_node("sut", {k_key}, 32u << 20);
  ASSERT_TRUE(holder.cache->adopt_manifest(model).has_value());
  ASSERT_TRUE(sut_node.cache->adopt_manifest(model).has_value());
  const auto bytes = payload_for(1, 2, model.expert_bytes);
  ASSERT_TRUE(holder.cache->store_fetched({model.model, 1, 2}, bytes).has_value());

  auto result = fetch(sut_node, {1, 2}, {endpoint(holder)});

  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(sut_node.cache->held_experts(), std::vector<std::uint32_t>{1 * model.experts + 2});
  const auto stored = sut_node.cache->find_expert(1, 2);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->sha256, cache::sha256_of(bytes));
  auto read = sut_node.cache->read_blob(stored->key);
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(*read == bytes);
  const auto status = sut_node.transfer->status();
  EXPECT_EQ(status["completed"], 1);
  EXPECT_EQ(status["failed"], 0);
  EXPECT_EQ(status["bytes_received"], model.expert_bytes);
  EXPECT_EQ(status["recent"][0]["stripes"], 2);
  EXPECT_FALSE(status["ciphersuite"].get<std::string>().empty());
  EXPECT_EQ(holder.transfer->status()["bytes_sent"], model.expert_bytes);
  EXPECT_FALSE(sut_node.transfer->fetching({1, 2}));
}

TEST_F(TransferServiceTest, NextHolderIsTriedAfterOneWithoutTheExpertOneRefusingAndOneDisconnecting) {
  const auto model = small_model();
  Node& holder = add_node("holder");
  Node& empty = add_node("empty");
  Node& sut_node = add_node("sut");
  for (Node* n : {&holder, &empty, &sut_node}) ASSERT_TRUE(n->cache->adopt_manifest(model).has_value());
  const auto bytes = payload_for(0, 3, model.expert_bytes);
  ASSERT_TRUE(holder.cache->store_fetched({model.model, 0, 3}, bytes).has_value());
  // A port nobody listens on (refuses) and a peer that accepts and hangs up at once.
  asio::ip::tcp::acceptor closed(m_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto refused_port = closed.local_endpoint().port();
  closed.close();
  asio::ip::tcp::acceptor rude(m_io, {asio::ip::make_address("127.0.0.1"), 0});
  std::function<void()> accept_and_drop = [&] {
    rude.async_accept([&](const asio::error_code& ec, asio::ip::tcp::socket s) {
      if (ec) return;
      s.close();
      accept_and_drop();
    });
  };
  accept_and_drop();
  const std::vector<PeerEndpoint> holders{endpoint(empty),
                                          {"refuses", "127.0.0.1", refused_port},
                                          {"hangs-up", "127.0.0.1", rude.local_endpoint().port()},
                                          endpoint(holder)};

  auto result = fetch(sut_node, {0, 3}, holders);

  ASSERT_TRUE(result.has_value()) << result.error();
  const auto stored = sut_node.cache->find_expert(0, 3);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->sha256, cache::sha256_of(bytes));
}

TEST_F(TransferServiceTest, WhenEveryHolderFailsTheErrorNamesEachAndNothingIsStored) {
  const auto model = small_model();
  Node& empty = add_node("empty");
  Node& sut_node = add_node("sut");
  for (Node* n : {&empty, &sut_node}) ASSERT_TRUE(n->cache->adopt_manifest(model).has_value());
  asio::ip::tcp::acceptor closed(m_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto refused_port = closed.local_endpoint().port();
  closed.close();

  auto result = fetch(sut_node, {1, 1}, {endpoint(empty), {"refuses", "127.0.0.1", refused_port}});

  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find(empty.config.node.name), std::string::npos) << result.error();
  EXPECT_NE(result.error().find("not_found"), std::string::npos) << result.error();
  EXPECT_NE(result.error().find("refuses"), std::string::npos) << result.error();
  EXPECT_TRUE(sut_node.cache->held_experts().empty());
  EXPECT_EQ(sut_node.transfer->status()["failed"], 1);
}

TEST_F(TransferServiceTest, WrongKeyFailsWithAHandshakeErrorAndStoresNothing) {
  const auto model = small_model();
  Node& holder = add_node("holder", {k_key});
  Node& sut_node = add_node("sut", {k_other_key});
  for (Node* n : {&holder, &sut_node}) ASSERT_TRUE(n->cache->adopt_manifest(model).has_value());
  ASSERT_TRUE(holder.cache->store_fetched({model.model, 0, 0}, payload_for(0, 0, model.expert_bytes)).has_value());

  auto result = fetch(sut_node, {0, 0}, {endpoint(holder)});

  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("handshake"), std::string::npos) << result.error();
  EXPECT_TRUE(sut_node.cache->held_experts().empty());
  EXPECT_TRUE(fs::is_empty(fs::path(sut_node.config.node.state_dir) / "transfer-staging" / "partial"));
  EXPECT_EQ(holder.transfer->status()["bytes_sent"], 0);
}

TEST_F(TransferServiceTest, WithoutAnyKeyTransfersAreDisabledAndFetchFailsAtOnce) {
  Node& sut_node = add_node("sut", {});
  ASSERT_TRUE(sut_node.cache->adopt_manifest(small_model()).has_value());

  auto result = fetch(sut_node, {0, 0}, {{"x", "127.0.0.1", 1}});

  EXPECT_FALSE(sut_node.transfer->enabled());
  EXPECT_EQ(sut_node.transfer->port(), 0);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().find("disabled"), std::string::npos) << result.error();
}

TEST_F(TransferServiceTest, AnExpertAlreadyHeldCompletesWithoutATransfer) {
  const auto model = small_model();
  Node& sut_node = add_node("sut");
  ASSERT_TRUE(sut_node.cache->adopt_manifest(model).has_value());
  ASSERT_TRUE(sut_node.cache->store_fetched({model.model, 1, 3}, payload_for(1, 3, model.expert_bytes)).has_value());

  auto result = fetch(sut_node, {1, 3}, {{"nobody", "127.0.0.1", 1}});

  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(sut_node.transfer->status()["bytes_received"], 0);
}

TEST_F(TransferServiceTest, AdoptManifestOpensAnEmptyCacheAndRefusesAnotherModel) {
  Node& sut_node = add_node("sut");
  const auto model = small_model();
  ASSERT_FALSE(sut_node.cache->manifest().has_value());

  auto adopted = sut_node.cache->adopt_manifest(model);
  auto again = sut_node.cache->adopt_manifest(model);
  auto other_model = model;
  other_model.model = "another-model";
  auto other = sut_node.cache->adopt_manifest(other_model);

  ASSERT_TRUE(adopted.has_value()) << adopted.error();
  EXPECT_TRUE(again.has_value());
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().find("another-model"), std::string::npos) << other.error();
  EXPECT_EQ(sut_node.cache->manifest(), model);
  EXPECT_TRUE(fs::exists(fs::path(sut_node.config.node.state_dir) / "model.json"));
  EXPECT_TRUE(sut_node.cache->held_experts().empty());
  EXPECT_FALSE(sut_node.cache->is_origin());
}

TEST_F(TransferServiceTest, DropExpertRemovesItFromDiskAndRefusesWhatIsNotHeld) {
  Node& sut_node = add_node("sut");
  const auto model = small_model();
  ASSERT_TRUE(sut_node.cache->adopt_manifest(model).has_value());
  for (std::uint32_t e : {0u, 1u})
    ASSERT_TRUE(sut_node.cache->store_fetched({model.model, 0, e}, payload_for(0, e, model.expert_bytes)).has_value());
  const auto path = sut_node.cache->find_expert(0, 1)->path;

  auto dropped = sut_node.cache->drop_expert(0, 1);
  auto again = sut_node.cache->drop_expert(0, 1);
  auto outside = sut_node.cache->drop_expert(9, 0);

  ASSERT_TRUE(dropped.has_value()) << dropped.error();
  EXPECT_EQ(sut_node.cache->held_experts(), std::vector<std::uint32_t>{0});
  EXPECT_FALSE(fs::exists(path));
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().find("not held"), std::string::npos) << again.error();
  EXPECT_FALSE(outside.has_value());
}

TEST_F(TransferServiceTest, ReceivedExpertsRespectTheDiskBudget) {
  Node& sut_node = add_node("sut", {k_key}, 1 << 20, 3u << 20);
  const auto model = small_model(512u << 10);

  ASSERT_TRUE(sut_node.cache->adopt_manifest(model).has_value());
  std::vector<bool> stored;
  for (std::uint32_t e = 0; e < 8; ++e) {
    stored.push_back(sut_node.cache->store_fetched({model.model, e / 4, e % 4}, payload_for(e / 4, e % 4, model.expert_bytes))
                         .has_value());
  }

  // 3 MiB hold five 512 KiB experts with their 128-byte headers, not six.
  EXPECT_EQ(stored, (std::vector<bool>{true, true, true, true, true, false, false, false}));
  EXPECT_EQ(sut_node.cache->held_experts().size(), 5u);
}

}  // namespace
}  // namespace slimcache::agent
