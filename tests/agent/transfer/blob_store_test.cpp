#include "agent/transfer/blob_store.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "agent/transfer/directory_blob_store.hpp"
#include "agent/transfer/memory_blob_store.hpp"
#include "tests/agent/transfer/transfer_test_support.hpp"

namespace slimcache::agent::transfer {
namespace {

using testing::random_blob;
using testing::TempDir;

// Each store kind behind one fixture; reopen() simulates a process restart (the memory
// store keeps its object, the directory store is opened again on the same directory).
struct StoreKind {
  const char* name;
  bool persistent;
};

class BlobStoreContract : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    if (GetParam().persistent) {
      m_dir_store.reset();
      auto opened = DirectoryBlobStore::open(m_dir.str());
      ASSERT_TRUE(opened.has_value()) << opened.error().message;
      m_dir_store = std::move(opened).value();
    }
  }
  BlobStore& sut() { return GetParam().persistent ? static_cast<BlobStore&>(*m_dir_store) : m_memory; }

  TempDir m_dir;
  MemoryBlobStore m_memory;
  std::unique_ptr<DirectoryBlobStore> m_dir_store;
};

TEST_P(BlobStoreContract, AppendedBlobBecomesReadableOnlyAfterFinish) {
  const auto blob = random_blob(10'000, 1);
  const BlobId id = BlobId::of(blob);

  ASSERT_EQ(sut().begin(id, blob.size()).value(), 0u);
  ASSERT_TRUE(sut().append(id, std::span(blob).first(4000)).has_value());
  ASSERT_TRUE(sut().append(id, std::span(blob).subspan(4000)).has_value());
  EXPECT_FALSE(sut().has(id));
  auto finished = sut().finish(id);

  ASSERT_TRUE(finished.has_value()) << finished.error().message;
  EXPECT_TRUE(sut().has(id));
  EXPECT_EQ(sut().size(id).value(), blob.size());
  std::vector<std::byte> back(blob.size());
  EXPECT_EQ(sut().read(id, 0, back).value(), blob.size());
  EXPECT_EQ(back, blob);
}

TEST_P(BlobStoreContract, KeptPartialResumesFromItsSizeAfterARestart) {
  const auto blob = random_blob(50'000, 2);
  const BlobId id = BlobId::of(blob);
  ASSERT_TRUE(sut().begin(id, blob.size()).has_value());
  ASSERT_TRUE(sut().append(id, std::span(blob).first(20'000)).has_value());
  sut().abort(id, PartialMode::k_keep);

  reopen();
  const auto resume = sut().begin(id, blob.size());
  ASSERT_TRUE(resume.has_value());
  ASSERT_TRUE(sut().append(id, std::span(blob).subspan(*resume)).has_value());
  auto finished = sut().finish(id);

  EXPECT_EQ(*resume, 20'000u);
  ASSERT_TRUE(finished.has_value()) << finished.error().message;
  EXPECT_EQ(sut().size(id).value(), blob.size());
}

TEST_P(BlobStoreContract, TamperedBytesFailVerificationAndDiscardThePartial) {
  auto blob = random_blob(8'000, 3);
  const BlobId id = BlobId::of(blob);
  blob[4321] ^= std::byte{0x01};
  ASSERT_TRUE(sut().begin(id, blob.size()).has_value());
  ASSERT_TRUE(sut().append(id, blob).has_value());

  auto finished = sut().finish(id);

  ASSERT_FALSE(finished.has_value());
  EXPECT_EQ(finished.error().code, TransferErrc::k_verify_failed);
  EXPECT_FALSE(sut().has(id));
  EXPECT_EQ(sut().partial_size(id), 0u);
}

TEST_P(BlobStoreContract, PartialOfAnotherAnnouncedSizeIsDiscarded) {
  const auto blob = random_blob(8'000, 4);
  const BlobId id = BlobId::of(blob);
  ASSERT_TRUE(sut().begin(id, 9'000).has_value());
  ASSERT_TRUE(sut().append(id, std::span(blob).first(3000)).has_value());
  sut().abort(id, PartialMode::k_keep);

  auto resume = sut().begin(id, blob.size());

  ASSERT_TRUE(resume.has_value());
  EXPECT_EQ(*resume, 0u);
}

TEST_P(BlobStoreContract, SecondWriterOfOneIdIsBusyAndOverflowIsRefused) {
  const auto blob = random_blob(1000, 5);
  const BlobId id = BlobId::of(blob);
  ASSERT_TRUE(sut().begin(id, blob.size()).has_value());

  auto second = sut().begin(id, blob.size());
  auto overflow = sut().append(id, random_blob(1001, 6));

  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, TransferErrc::k_busy);
  ASSERT_FALSE(overflow.has_value());
  EXPECT_EQ(overflow.error().code, TransferErrc::k_protocol);
}

TEST_P(BlobStoreContract, ReadOfAMissingBlobIsNotFound) {
  std::vector<std::byte> dest(10);

  auto sut_read = sut().read(BlobId::of(random_blob(10, 7)), 0, dest);

  ASSERT_FALSE(sut_read.has_value());
  EXPECT_EQ(sut_read.error().code, TransferErrc::k_not_found);
}

INSTANTIATE_TEST_SUITE_P(Stores, BlobStoreContract,
                         ::testing::Values(StoreKind{"memory", false}, StoreKind{"directory", true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(DirectoryBlobStore, PartialWithAnUnsyncedWrongTailIsCaughtByTheFinalCheck) {
  TempDir dir;
  const auto blob = random_blob(30'000, 8);
  const BlobId id = BlobId::of(blob);
  {
    auto sut = DirectoryBlobStore::open(dir.str()).value();
    ASSERT_TRUE(sut->begin(id, blob.size()).has_value());
    ASSERT_TRUE(sut->append(id, std::span(blob).first(10'000)).has_value());
    sut->abort(id, PartialMode::k_keep);
    // A crash that left garbage in the tail of the partial file.
    FILE* f = std::fopen(sut->partial_path(id).c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 9'000, SEEK_SET);
    std::fputc(0x5A ^ std::to_integer<int>(blob[9'000]), f);
    std::fclose(f);
  }
  auto sut = DirectoryBlobStore::open(dir.str()).value();
  const auto resume = sut->begin(id, blob.size()).value();
  ASSERT_TRUE(sut->append(id, std::span(blob).subspan(resume)).has_value());

  auto finished = sut->finish(id);

  ASSERT_FALSE(finished.has_value());
  EXPECT_EQ(finished.error().code, TransferErrc::k_verify_failed);
  EXPECT_EQ(sut->begin(id, blob.size()).value(), 0u);
}

}  // namespace
}  // namespace slimcache::agent::transfer
