// Protocol version 2 over 127.0.0.1: striped fetches (range GETs over several connections),
// STAT_EXPERT, resuming a striped fetch, and version-1 requests still served. Bounded by
// the I/O timeout; nothing sleeps.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/transfer/memory_blob_store.hpp"
#include "agent/transfer/transfer_client.hpp"
#include "agent/transfer/transfer_server.hpp"
#include "tests/agent/transfer/transfer_loopback_support.hpp"
#include "tests/agent/transfer/transfer_test_support.hpp"

namespace slimcache::agent::transfer {
namespace {

using testing::random_blob;

constexpr IoTimeout k_timeout = testing::k_loopback_timeout;

std::shared_ptr<TlsContext> context(TlsRole role) { return testing::loopback_context(role, 0x42, "v2-test"); }

std::unique_ptr<TransferServer> start_server(BlobStore& store, ServerOptions options = {}) {
  return testing::start_loopback_server(context(TlsRole::k_server), store, options);
}

ClientOptions striped_options(std::size_t stripes) {
  ClientOptions options;
  options.io_timeout = k_timeout;
  options.stripes = stripes;
  options.min_stripe_bytes = 256 * 1024;
  return options;
}

Endpoint at(const TransferServer& server) { return Endpoint{"127.0.0.1", server.port()}; }

TEST(TransferV2Loopback, StripedFetchUsesOneRangePerConnectionAndDeliversAVerifiedCopy) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(3 * 1024 * 1024 + 12345, 11);
  const BlobId id = origin.put(blob);
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, striped_options(3));

  auto result = sut.fetch(at(*server), id, -1, blob.size());

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->stripes, 3u);
  EXPECT_EQ(result->bytes_received, blob.size());
  EXPECT_TRUE(receiver.contents(id) == blob);
  const auto stats = server->stats();
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(stats.bytes_sent, blob.size());
  std::vector<std::uint64_t> offsets = stats.requested_offsets;
  std::sort(offsets.begin(), offsets.end());
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0, blob.size() / 3, 2 * blob.size() / 3}));
}

TEST(TransferV2Loopback, StripedFetchResumesAfterAPartialAndSplitsOnlyTheRest) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(2 * 1024 * 1024, 12);
  const BlobId id = origin.put(blob);
  const std::uint64_t held = 700 * 1024;
  ASSERT_EQ(receiver.begin(id, blob.size()).value(), 0u);
  ASSERT_TRUE(receiver.append(id, std::span(blob.data(), held)).has_value());
  receiver.abort(id, PartialMode::k_keep);
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, striped_options(2));

  auto result = sut.fetch(at(*server), id, -1, blob.size());

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->resumed_from, held);
  EXPECT_EQ(result->bytes_received, blob.size() - held);
  EXPECT_TRUE(receiver.contents(id) == blob);
  std::vector<std::uint64_t> offsets = server->stats().requested_offsets;
  std::sort(offsets.begin(), offsets.end());
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{held, held + (blob.size() - held) / 2}));
}

TEST(TransferV2Loopback, StripedFetchOfTamperedBytesFailsVerificationAndKeepsNothing) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  auto blob = random_blob(1024 * 1024, 13);
  const BlobId id = BlobId::of(blob);
  blob[900 * 1024] ^= std::byte{1};  // in the second range
  origin.put_unverified(id, blob);
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, striped_options(2));

  auto result = sut.fetch(at(*server), id, -1, blob.size());

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_verify_failed);
  EXPECT_FALSE(receiver.has(id));
  EXPECT_EQ(receiver.partial_size(id), 0u);
  EXPECT_EQ(sut.stats().verify_failures, 1u);
}

TEST(TransferV2Loopback, StatExpertAnswersWithTheBlobOrNotFound) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(4096, 14);
  const BlobId id = origin.put(blob);
  ServerOptions options;
  options.expert_lookup = [&](std::uint32_t layer, std::uint32_t expert) -> std::optional<InfoBody> {
    if (layer == 3 && expert == 7) return InfoBody{blob.size(), id};
    return std::nullopt;
  };
  auto server = start_server(origin, options);
  TransferClient sut(context(TlsRole::k_client), receiver, striped_options(1));

  auto found = sut.stat_expert(at(*server), 3, 7);
  auto missing = sut.stat_expert(at(*server), 3, 8);

  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(found->id, id);
  EXPECT_EQ(found->total_size, blob.size());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, TransferErrc::k_not_found);
  EXPECT_EQ(server->stats().stat_requests, 2u);
}

TEST(TransferV2Loopback, SmallBlobsGoOverOneVersion1Connection) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(300 * 1024, 15);  // under stripes x min_stripe_bytes
  const BlobId id = origin.put(blob);
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, striped_options(2));

  auto result = sut.fetch(at(*server), id, -1, blob.size());

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->stripes, 1u);
  EXPECT_EQ(server->stats().requests, 1u);
  EXPECT_TRUE(receiver.contents(id) == blob);
}

}  // namespace
}  // namespace slimcache::agent::transfer
