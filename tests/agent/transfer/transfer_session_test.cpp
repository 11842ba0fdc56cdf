// Protocol version 3 sessions over 127.0.0.1: one TLS handshake serves many requests, a
// session the server closed is replaced without failing the fetch, and the one-request-per-
// connection mode (versions 1 and 2) still works. Every wait is bounded; nothing sleeps.
#include <gtest/gtest.h>

#include "agent/transfer/memory_blob_store.hpp"
#include "agent/transfer/transfer_client.hpp"
#include "agent/transfer/transfer_server.hpp"
#include "tests/agent/transfer/transfer_loopback_support.hpp"
#include "tests/agent/transfer/transfer_test_support.hpp"

namespace slimcache::agent::transfer {
namespace {

using testing::random_blob;

constexpr IoTimeout k_timeout = testing::k_loopback_timeout;

std::shared_ptr<TlsContext> context(TlsRole role) { return testing::loopback_context(role, 0x5e, "session-test"); }

std::unique_ptr<TransferServer> start_server(BlobStore& store, ServerOptions options = {}) {
  return testing::start_loopback_server(context(TlsRole::k_server), store, options);
}

ClientOptions options(SessionMode mode, std::size_t stripes = 1) {
  ClientOptions o;
  o.io_timeout = k_timeout;
  o.sessions = mode;
  o.stripes = stripes;
  o.min_stripe_bytes = 64 * 1024;
  return o;
}

Endpoint at(const TransferServer& server) { return Endpoint{"127.0.0.1", server.port()}; }

std::vector<BlobId> put_blobs(MemoryBlobStore& store, std::size_t count, std::size_t size, std::uint64_t seed) {
  std::vector<BlobId> ids;
  for (std::size_t i = 0; i < count; ++i) ids.push_back(store.put(random_blob(size + i, seed + i)));
  return ids;
}

TEST(TransferSessions, ManyFetchesFromOnePeerShareOneHandshake) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 10, 3000, 40);  // one chunk each, like scaled-down experts
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_reuse));

  for (const auto& id : ids) {
    auto fetched = sut.fetch(at(*server), id);
    ASSERT_TRUE(fetched.has_value()) << fetched.error().message;
  }

  for (const auto& id : ids) EXPECT_TRUE(receiver.contents(id) == origin.contents(id));
  EXPECT_EQ(sut.stats().connections, 1u);
  EXPECT_EQ(sut.stats().session_reuses, ids.size() - 1);
  EXPECT_EQ(server->stats().connections, 1u);
  EXPECT_EQ(server->stats().session_reuses, ids.size() - 1);
  EXPECT_EQ(server->stats().requests, ids.size());
}

TEST(TransferSessions, AMissKeepsTheSessionAndTheNextRequestReusesIt) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 1, 5000, 50);
  MemoryBlobStore elsewhere;
  const BlobId absent = elsewhere.put(random_blob(100, 51));
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_reuse));

  auto missing = sut.fetch(at(*server), absent);
  auto fetched = sut.fetch(at(*server), ids[0]);

  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, TransferErrc::k_not_found);
  ASSERT_TRUE(fetched.has_value()) << fetched.error().message;
  EXPECT_EQ(server->stats().connections, 1u);
}

TEST(TransferSessions, SessionsTheServerClosedWhenIdleAreReplacedWithoutFailingAFetch) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 6, 2000, 60);
  ServerOptions server_options;
  server_options.session_idle_timeout = IoTimeout{0};  // every session ends after its first answer
  auto server = start_server(origin, server_options);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_reuse));

  for (const auto& id : ids) {
    auto fetched = sut.fetch(at(*server), id);
    ASSERT_TRUE(fetched.has_value()) << fetched.error().message;
  }

  for (const auto& id : ids) EXPECT_TRUE(receiver.contents(id) == origin.contents(id));
  // Each answer ends its session, unless the next request beat the server's idle check.
  const auto stats = server->stats();
  EXPECT_EQ(stats.requests, ids.size());
  EXPECT_EQ(stats.connections + stats.session_reuses, ids.size());
  EXPECT_EQ(sut.stats().connections, stats.connections);
}

TEST(TransferSessions, OneRequestPerConnectionModeSpeaksVersions1And2) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 4, 1000, 70);
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_one_per_request));

  for (const auto& id : ids) ASSERT_TRUE(sut.fetch(at(*server), id).has_value());

  EXPECT_EQ(server->stats().connections, ids.size());
  EXPECT_EQ(server->stats().session_reuses, 0u);
  EXPECT_EQ(sut.stats().session_reuses, 0u);
}

TEST(TransferSessions, StripedFetchesReuseTheirStripesSessions) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 2, 600 * 1024, 80);
  auto server = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_reuse, 3));

  for (const auto& id : ids) {
    auto fetched = sut.fetch(at(*server), id, -1, origin.size(id).value());
    ASSERT_TRUE(fetched.has_value()) << fetched.error().message;
    EXPECT_EQ(fetched->stripes, 3u);
  }

  for (const auto& id : ids) EXPECT_TRUE(receiver.contents(id) == origin.contents(id));
  EXPECT_EQ(server->stats().requests, 6u);
  EXPECT_EQ(server->stats().connections, 3u);
}

TEST(TransferSessions, StoppingTheServerEndsIdleSessionsAndANewServerIsReached) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 2, 4000, 90);
  auto first = start_server(origin);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_reuse));
  ASSERT_TRUE(sut.fetch(at(*first), ids[0]).has_value());
  const Endpoint old_peer = at(*first);
  first->stop();  // closes the pooled session's other end
  ServerOptions same_port;
  same_port.port = old_peer.port;
  auto second = start_server(origin, same_port);

  auto fetched = sut.fetch(old_peer, ids[1]);

  ASSERT_TRUE(fetched.has_value()) << fetched.error().message;
  EXPECT_EQ(second->stats().connections, 1u);
}

TEST(TransferSessions, APeerWithoutVersion3IsAskedTheOldWayFromThenOn) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto ids = put_blobs(origin, 3, 3000, 100);
  ServerOptions version_2_server;
  version_2_server.max_version = k_protocol_version_2;
  auto server = start_server(origin, version_2_server);
  TransferClient sut(context(TlsRole::k_client), receiver, options(SessionMode::k_reuse));

  for (const auto& id : ids) {
    auto fetched = sut.fetch(at(*server), id);
    ASSERT_TRUE(fetched.has_value()) << fetched.error().message;
  }

  for (const auto& id : ids) EXPECT_TRUE(receiver.contents(id) == origin.contents(id));
  // One refused version-3 request, then one connection per request (versions 1 and 2).
  EXPECT_EQ(server->stats().errors_sent, 1u);
  EXPECT_EQ(server->stats().requests, ids.size());
  EXPECT_EQ(server->stats().connections, ids.size() + 1);
  EXPECT_EQ(server->stats().session_reuses, 0u);
}

}  // namespace
}  // namespace slimcache::agent::transfer
