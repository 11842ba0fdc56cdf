#include "agent/transfer/disk_tier_blob_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "agent/transfer/memory_blob_store.hpp"
#include "agent/transfer/transfer_client.hpp"
#include "agent/transfer/transfer_server.hpp"
#include "platform/mem_env.hpp"
#include "tests/agent/transfer/transfer_test_support.hpp"

namespace slimcache::agent::transfer {
namespace {

using testing::random_blob;
using testing::TempDir;

std::shared_ptr<TlsContext> context(TlsRole role) {
  const std::vector<std::uint8_t> cluster_key(32, 9);
  TlsSettings settings;
  settings.role = role;
  settings.psk = derive_transfer_psk(cluster_key, "tier-test").value();
  return TlsContext::create(settings).value();
}

class DiskTierBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tier = cache::DiskTier::open(m_env, {"/node/experts", 64ull << 20, cache::VerifyMode::k_full});
    ASSERT_TRUE(tier.has_value()) << tier.error().message;
    m_tier = std::move(tier).value();
    m_staging = DirectoryBlobStore::open(m_dir.str()).value();
  }
  DiskTierBlobStore make_sut() {
    return DiskTierBlobStore(*m_tier, *m_staging, [this](const BlobId& id) -> std::optional<cache::ExpertKey> {
      auto it = m_directory.find(id);
      if (it == m_directory.end()) return std::nullopt;
      return it->second;
    });
  }

  platform::MemEnv m_env;
  TempDir m_dir;
  std::unique_ptr<cache::DiskTier> m_tier;
  std::unique_ptr<DirectoryBlobStore> m_staging;
  std::map<BlobId, cache::ExpertKey> m_directory;
};

TEST_F(DiskTierBlobStoreTest, VerifiedTransferLandsInTheDiskTierUnderTheExpertKey) {
  MemoryBlobStore origin;
  const auto blob = random_blob(300'000, 31);
  const BlobId id = origin.put(blob);
  const cache::ExpertKey key{"olmoe", 3, 17};
  m_directory[id] = key;
  auto sut = make_sut();
  auto server = TransferServer::start(context(TlsRole::k_server), origin, {}).value();
  TransferClient client(context(TlsRole::k_client), sut, {});

  auto result = client.fetch(Endpoint{"127.0.0.1", server->port()}, id);

  ASSERT_TRUE(result.has_value()) << result.error().message;
  const auto stored = m_tier->find(key);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->sha256, id.bytes);
  EXPECT_EQ(m_tier->read(key).value(), blob);
  EXPECT_TRUE(sut.has(id));
  EXPECT_FALSE(m_staging->has(id));
}

TEST_F(DiskTierBlobStoreTest, ServesABlobFromTheTierToAPeer) {
  const auto blob = random_blob(100'000, 32);
  const cache::ExpertKey key{"olmoe", 0, 1};
  ASSERT_TRUE(m_tier->put(key, blob).has_value());
  const BlobId id = BlobId::of(blob);
  m_directory[id] = key;
  auto sut = make_sut();
  MemoryBlobStore receiver;
  ServerOptions options;
  options.chunk_size = 16 * 1024;
  auto server = TransferServer::start(context(TlsRole::k_server), sut, options).value();
  TransferClient client(context(TlsRole::k_client), receiver, {});

  auto result = client.fetch(Endpoint{"127.0.0.1", server->port()}, id);

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(receiver.contents(id), blob);
}

TEST_F(DiskTierBlobStoreTest, UnknownBlobIdIsRefusedAtBegin) {
  auto sut = make_sut();

  auto begun = sut.begin(BlobId::of(random_blob(10, 33)), 10);

  ASSERT_FALSE(begun.has_value());
  EXPECT_EQ(begun.error().code, TransferErrc::k_invalid_argument);
}

TEST_F(DiskTierBlobStoreTest, SmallBlobsAreStagedInMemoryAndVerifiedBeforeThePut) {
  const auto blob = random_blob(5000, 34);
  const BlobId id = BlobId::of(blob);
  const cache::ExpertKey key{"olmoe", 1, 2};
  m_directory[id] = key;
  auto sut = make_sut();
  auto tampered = blob;
  tampered[100] ^= std::byte{1};

  ASSERT_EQ(sut.begin(id, blob.size()).value(), 0u);
  ASSERT_TRUE(sut.append(id, std::span(tampered).first(3000)).has_value());
  EXPECT_EQ(sut.partial_size(id), 3000u);
  EXPECT_TRUE(std::filesystem::is_empty(std::filesystem::path(m_dir.str()) / "partial"));  // nothing on disk
  ASSERT_TRUE(sut.append(id, std::span(tampered).subspan(3000)).has_value());
  auto bad = sut.finish(id);
  ASSERT_TRUE(sut.begin(id, blob.size()).has_value());
  ASSERT_TRUE(sut.append(id, blob).has_value());
  auto good = sut.finish(id);

  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, TransferErrc::k_verify_failed);
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ(m_tier->read(key).value(), blob);
  EXPECT_EQ(sut.partial_size(id), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(std::filesystem::path(m_dir.str()) / "partial"));
}

TEST_F(DiskTierBlobStoreTest, ASmallBlobAbortedMidwayStartsAgainFromZero) {
  const auto blob = random_blob(5000, 35);
  const BlobId id = BlobId::of(blob);
  m_directory[id] = cache::ExpertKey{"olmoe", 1, 3};
  auto sut = make_sut();
  ASSERT_TRUE(sut.begin(id, blob.size()).has_value());
  ASSERT_TRUE(sut.append(id, std::span(blob).first(1000)).has_value());
  auto busy = sut.begin(id, blob.size());

  sut.abort(id, PartialMode::k_keep);

  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, TransferErrc::k_busy);
  EXPECT_EQ(sut.partial_size(id), 0u);
  EXPECT_EQ(sut.begin(id, blob.size()).value(), 0u);
}

TEST_F(DiskTierBlobStoreTest, BlobsOverTheMemoryStageLimitAreStagedOnDiskAndResume) {
  const auto blob = random_blob(DiskTierBlobStore::k_memory_stage_bytes + 4096, 36);
  const BlobId id = BlobId::of(blob);
  const cache::ExpertKey key{"olmoe", 2, 5};
  m_directory[id] = key;
  auto sut = make_sut();
  ASSERT_TRUE(sut.begin(id, blob.size()).has_value());
  ASSERT_TRUE(sut.append(id, std::span(blob).first(1 << 20)).has_value());
  sut.abort(id, PartialMode::k_keep);

  const auto resume = sut.begin(id, blob.size());
  ASSERT_TRUE(resume.has_value()) << resume.error().message;
  ASSERT_TRUE(sut.append(id, std::span(blob).subspan(1 << 20)).has_value());
  auto finished = sut.finish(id);

  EXPECT_EQ(*resume, 1u << 20);
  ASSERT_TRUE(finished.has_value()) << finished.error().message;
  EXPECT_EQ(m_tier->read(key).value(), blob);
}

}  // namespace
}  // namespace slimcache::agent::transfer
