// Transfers between a server and a client in one process over 127.0.0.1. Every wait is
// bounded by the I/O timeout; nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "agent/transfer/directory_blob_store.hpp"
#include "agent/transfer/memory_blob_store.hpp"
#include "agent/transfer/transfer_client.hpp"
#include "agent/transfer/transfer_queue.hpp"
#include "agent/transfer/transfer_server.hpp"
#include "tests/agent/transfer/transfer_test_support.hpp"

namespace slimcache::agent::transfer {
namespace {

using namespace std::chrono_literals;
using testing::random_blob;
using testing::TempDir;

constexpr std::uint32_t k_chunk = 16 * 1024;
constexpr IoTimeout k_timeout{10000};

TransferPsk psk_for(std::uint8_t fill, const char* label = "test-cluster") {
  const std::vector<std::uint8_t> cluster_key(32, fill);
  return derive_transfer_psk(cluster_key, label).value();
}

std::shared_ptr<TlsContext> context(TlsRole role, const TransferPsk& psk, AesPolicy aes = AesPolicy::k_detect) {
  TlsSettings settings;
  settings.role = role;
  settings.psk = psk;
  settings.aes = aes;
  auto created = TlsContext::create(settings);
  EXPECT_TRUE(created.has_value()) << created.error().message;
  return std::move(created).value();
}

std::unique_ptr<TransferServer> start_server(BlobStore& store, const TransferPsk& psk, ServerOptions options = {},
                                             AesPolicy aes = AesPolicy::k_detect) {
  options.chunk_size = options.chunk_size == k_default_chunk_size ? k_chunk : options.chunk_size;
  options.io_timeout = k_timeout;
  auto server = TransferServer::start(context(TlsRole::k_server, psk, aes), store, options);
  EXPECT_TRUE(server.has_value()) << server.error().message;
  return std::move(server).value();
}

ClientOptions client_options() {
  ClientOptions options;
  options.io_timeout = k_timeout;
  return options;
}

Endpoint at(const TransferServer& server) { return Endpoint{"127.0.0.1", server.port()}; }

TEST(TransferLoopback, FullTransferDeliversAVerifiedCopy) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(200'000, 11);
  const BlobId id = origin.put(blob);
  auto server = start_server(origin, psk_for(1));
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, client_options());

  auto result = sut.fetch(at(*server), id);

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->size, blob.size());
  EXPECT_EQ(result->bytes_received, blob.size());
  EXPECT_EQ(receiver.contents(id), blob);
  EXPECT_EQ(sut.stats().completed, 1u);
}

TEST(TransferLoopback, MismatchedClusterKeysFailTheHandshakeCleanly) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const BlobId id = origin.put(random_blob(1000, 12));
  auto server = start_server(origin, psk_for(1));
  TransferClient sut(context(TlsRole::k_client, psk_for(2)), receiver, client_options());

  auto result = sut.fetch(at(*server), id);
  auto again = sut.fetch(at(*server), id);

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_handshake) << result.error().message;
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, TransferErrc::k_handshake);
  EXPECT_FALSE(receiver.has(id));
  EXPECT_EQ(receiver.partial_size(id), 0u);
}

TEST(TransferLoopback, SameKeyInAnotherClusterLabelIsRejected) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const BlobId id = origin.put(random_blob(1000, 13));
  auto server = start_server(origin, psk_for(1, "cluster-a"));
  TransferClient sut(context(TlsRole::k_client, psk_for(1, "cluster-b")), receiver, client_options());

  auto result = sut.fetch(at(*server), id);

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_handshake);
}

TEST(TransferLoopback, MissingBlobIsReportedAsNotFound) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  auto server = start_server(origin, psk_for(1));
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, client_options());

  auto result = sut.fetch(at(*server), BlobId::of(random_blob(10, 14)));

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_not_found);
}

TEST(TransferLoopback, CutConnectionResumesFromThePartialOnARestartedServer) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(20 * k_chunk + 123, 15);
  const BlobId id = origin.put(blob);
  ServerOptions dying;
  dying.cut_after_chunks = 5;
  auto server = start_server(origin, psk_for(1), dying);
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, client_options());

  auto first = sut.fetch(at(*server), id);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, TransferErrc::k_disconnected) << first.error().message;
  const std::uint64_t kept = receiver.partial_size(id);
  server.reset();  // the serving node dies; a restarted one serves the same blob
  auto restarted = start_server(origin, psk_for(1));
  auto second = sut.fetch(at(*restarted), id);

  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_GT(kept, 0u);
  EXPECT_LE(kept, 5u * k_chunk);
  EXPECT_EQ(kept % k_chunk, 0u);
  EXPECT_EQ(second->resumed_from, kept);
  EXPECT_EQ(second->bytes_received, blob.size() - kept);
  EXPECT_EQ(restarted->stats().requested_offsets, std::vector<std::uint64_t>{kept});
  EXPECT_EQ(receiver.contents(id), blob);
  EXPECT_EQ(sut.stats().resumed, 1u);
}

// A receiving store whose file system fills up after `room` bytes.
class FillingStore : public BlobStore {
 public:
  FillingStore(MemoryBlobStore& inner, std::uint64_t room) : m_inner(inner), m_room(room) {}
  bool has(const BlobId& id) const override { return m_inner.has(id); }
  std::optional<std::uint64_t> size(const BlobId& id) const override { return m_inner.size(id); }
  Expected<std::size_t, TransferError> read(const BlobId& id, std::uint64_t offset, std::span<std::byte> dest) const override {
    return m_inner.read(id, offset, dest);
  }
  std::uint64_t partial_size(const BlobId& id) const override { return m_inner.partial_size(id); }
  Expected<std::uint64_t, TransferError> begin(const BlobId& id, std::uint64_t expected) override {
    return m_inner.begin(id, expected);
  }
  Expected<void, TransferError> append(const BlobId& id, std::span<const std::byte> bytes) override {
    if (bytes.size() > m_room) return Unexpected(TransferError{TransferErrc::k_no_space, "No space left on device"});
    m_room -= bytes.size();
    return m_inner.append(id, bytes);
  }
  Expected<void, TransferError> finish(const BlobId& id) override { return m_inner.finish(id); }
  void abort(const BlobId& id, PartialMode mode) override {
    aborts.push_back(mode);
    m_inner.abort(id, mode);
  }
  std::vector<PartialMode> aborts;

 private:
  MemoryBlobStore& m_inner;
  std::uint64_t m_room;
};

TEST(TransferLoopback, AFullFileSystemDiscardsThePartialAndAFetchAfterwardsStartsOver) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(20 * k_chunk, 16);
  const BlobId id = origin.put(blob);
  auto server = start_server(origin, psk_for(1));
  FillingStore full(receiver, 6 * k_chunk);
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), full, client_options());

  auto first = sut.fetch(at(*server), id);

  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, TransferErrc::k_no_space) << first.error().message;
  EXPECT_EQ(full.aborts, std::vector<PartialMode>{PartialMode::k_discard});
  EXPECT_EQ(receiver.partial_size(id), 0u);
  TransferClient later(context(TlsRole::k_client, psk_for(1)), receiver, client_options());
  auto second = later.fetch(at(*server), id);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->resumed_from, 0u);
  EXPECT_EQ(receiver.contents(id), blob);
}

TEST(TransferLoopback, RestartedReceiverResumesFromItsPartialFile) {
  TempDir dir;
  MemoryBlobStore origin;
  const auto blob = random_blob(12 * k_chunk, 16);
  const BlobId id = origin.put(blob);
  ServerOptions dying;
  dying.cut_after_chunks = 4;
  std::uint64_t kept = 0;
  {
    auto store = DirectoryBlobStore::open(dir.str()).value();
    auto server = start_server(origin, psk_for(1), dying);
    TransferClient before_restart(context(TlsRole::k_client, psk_for(1)), *store, client_options());
    ASSERT_FALSE(before_restart.fetch(at(*server), id).has_value());
    kept = store->partial_size(id);
  }
  auto store = DirectoryBlobStore::open(dir.str()).value();
  auto server = start_server(origin, psk_for(1));
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), *store, client_options());

  auto result = sut.fetch(at(*server), id);

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_GT(kept, 0u);
  EXPECT_EQ(result->resumed_from, kept);
  EXPECT_EQ(server->stats().bytes_sent, blob.size() - kept);
  std::vector<std::byte> back(blob.size());
  ASSERT_EQ(store->read(id, 0, back).value(), blob.size());
  EXPECT_EQ(back, blob);
}

TEST(TransferLoopback, TamperedBlobIsDetectedBySha256AndNotStored) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  auto blob = random_blob(5 * k_chunk, 17);
  const BlobId id = BlobId::of(blob);
  blob[3 * k_chunk + 7] ^= std::byte{0x80};
  origin.put_unverified(id, blob);  // a peer serving corrupted bytes under the real id
  auto server = start_server(origin, psk_for(1));
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, client_options());

  auto result = sut.fetch(at(*server), id);

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_verify_failed);
  EXPECT_FALSE(receiver.has(id));
  EXPECT_EQ(receiver.partial_size(id), 0u);
  EXPECT_EQ(sut.stats().verify_failures, 1u);
}

TEST(TransferLoopback, ChunkOverTheClientsLimitIsRejected) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const BlobId id = origin.put(random_blob(3 * k_chunk, 18));
  auto server = start_server(origin, psk_for(1));
  ClientOptions options = client_options();
  options.limits.max_chunk_size = k_chunk / 2;
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, options);

  auto result = sut.fetch(at(*server), id);

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_too_large);
  EXPECT_FALSE(receiver.has(id));
}

TEST(TransferLoopback, PeerClaimingAPetabyteBlobIsRejected) {
  // A hand-written hostile peer: valid TLS, then a BLOB header claiming 1 PiB.
  auto listener = TcpListener::listen("127.0.0.1", 0).value();
  auto server_context = context(TlsRole::k_server, psk_for(1));
  std::thread hostile([&] {
    auto socket = listener.accept(k_timeout, -1);
    if (!socket) return;
    auto channel = TlsChannel::handshake(server_context, std::move(socket).value(), k_timeout);
    if (!channel) return;
    std::array<std::byte, k_request_size> request{};
    if (!(*channel)->read_exact(request)) return;
    (void)(*channel)->write_all(encode_blob_frame(BlobHeader{1ull << 50, 0, k_chunk}));
    std::array<std::byte, 1> ignored{};
    (void)(*channel)->read_exact(ignored);
  });
  MemoryBlobStore receiver;
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, client_options());
  const BlobId id = BlobId::of(random_blob(10, 19));

  auto result = sut.fetch(Endpoint{"127.0.0.1", listener.port()}, id);
  hostile.join();

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_too_large) << result.error().message;
  EXPECT_EQ(receiver.partial_size(id), 0u);
}

TEST(TransferLoopback, SilentPeerEndsInATimeoutNotAHang) {
  // A peer that accepts the TCP connection and never answers the TLS handshake.
  auto listener = TcpListener::listen("127.0.0.1", 0).value();
  MemoryBlobStore receiver;
  ClientOptions options = client_options();
  options.io_timeout = IoTimeout{200};
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, options);

  auto result = sut.fetch(Endpoint{"127.0.0.1", listener.port()}, BlobId::of(random_blob(10, 22)));

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, TransferErrc::k_timeout) << result.error().message;
}

TEST(TransferLoopback, BandwidthLimitGrantsEveryByteAtTheConfiguredRate) {
  // Counted in tokens on a manual clock: the limiter "waits" by advancing the clock.
  platform::ManualClock clock;
  std::mutex mutex;
  platform::Duration waited{0};
  constexpr std::uint64_t k_rate = 64 * 1024;
  constexpr std::uint64_t k_burst = 16 * 1024;
  RateLimiter limiter(k_rate, k_burst, clock, [&](platform::Duration d) {
    std::lock_guard lock(mutex);
    waited += d;
    clock.advance(d);
  });
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const auto blob = random_blob(10 * k_chunk + 77, 20);
  const BlobId id = origin.put(blob);
  ServerOptions options;
  options.limiter = &limiter;
  auto server = start_server(origin, psk_for(1), options);
  TransferClient sut(context(TlsRole::k_client, psk_for(1)), receiver, client_options());

  auto result = sut.fetch(at(*server), id);

  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(limiter.granted(), blob.size());
  const double seconds = std::chrono::duration<double>(waited).count();
  const double expected = static_cast<double>(blob.size() - k_burst) / k_rate;
  EXPECT_GE(seconds, expected);
  EXPECT_LE(seconds, expected * 1.01 + 0.01);
}

TEST(TransferLoopback, QueueRunsAtMostMaxParallelTransfersAndFinishesAll) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  std::vector<BlobId> ids;
  for (std::uint64_t i = 0; i < 6; ++i) ids.push_back(origin.put(random_blob(8 * k_chunk, 100 + i)));
  ServerOptions options;
  options.max_parallel = 4;
  auto server = start_server(origin, psk_for(1), options);
  TransferClient client(context(TlsRole::k_client, psk_for(1)), receiver, client_options());
  std::atomic<int> ok{0};
  std::atomic<int> callbacks{0};
  {
    TransferQueue sut(client, 2);
    for (const BlobId& id : ids) {
      sut.submit(FetchJob{at(*server), id}, [&](const BlobId&, const FetchOutcome& outcome) {
        ++callbacks;
        if (outcome.has_value()) ++ok;
      });
    }
    sut.submit(FetchJob{at(*server), ids[0]}, [&](const BlobId&, const FetchOutcome&) { ++callbacks; });

    sut.wait_idle();

    EXPECT_LE(sut.peak_active(), 2u);
    EXPECT_GE(sut.peak_active(), 1u);
  }
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(callbacks.load(), 7);
  for (const BlobId& id : ids) EXPECT_TRUE(receiver.has(id));
}

TEST(TransferLoopback, ServerBoundsParallelConnectionsAndQueuesTheRest) {
  MemoryBlobStore origin;
  std::vector<BlobId> ids;
  for (std::uint64_t i = 0; i < 5; ++i) ids.push_back(origin.put(random_blob(4 * k_chunk, 200 + i)));
  ServerOptions options;
  options.max_parallel = 1;
  auto sut = start_server(origin, psk_for(1), options);
  std::vector<std::unique_ptr<MemoryBlobStore>> receivers;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (std::size_t i = 0; i < ids.size(); ++i) receivers.push_back(std::make_unique<MemoryBlobStore>());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    clients.emplace_back([&, i] {
      TransferClient client(context(TlsRole::k_client, psk_for(1)), *receivers[i], client_options());
      if (client.fetch(at(*sut), ids[i]).has_value()) ++ok;
    });
  }
  for (auto& t : clients) t.join();

  EXPECT_EQ(ok.load(), 5);
  EXPECT_EQ(sut->stats().peak_active, 1u);
  EXPECT_EQ(sut->stats().connections, 5u);
}

// ---------------------------------------------------------------- cipher suite preference
struct SuiteCase {
  const char* name;
  AesPolicy server;
  AesPolicy client;
};

class CipherSuiteNegotiation : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(CipherSuiteNegotiation, ChaChaUnlessTheServerPrefersAesGcmAndTheClientHasAes) {
  MemoryBlobStore origin;
  MemoryBlobStore receiver;
  const BlobId id = origin.put(random_blob(3000, 21));
  auto server = start_server(origin, psk_for(1), {}, GetParam().server);
  TransferClient sut(context(TlsRole::k_client, psk_for(1), GetParam().client), receiver, client_options());

  auto result = sut.fetch(at(*server), id);

  ASSERT_TRUE(result.has_value()) << result.error().message;
  const bool aes = GetParam().server == AesPolicy::k_prefer_aes && effective_aes(GetParam().client);
  EXPECT_EQ(result->ciphersuite, aes ? "TLS-PSK-WITH-AES-256-GCM-SHA384" : "TLS-PSK-WITH-CHACHA20-POLY1305-SHA256");
  EXPECT_EQ(server->stats().last_ciphersuite, result->ciphersuite);
}

INSTANTIATE_TEST_SUITE_P(
    Preferences, CipherSuiteNegotiation,
    ::testing::Values(SuiteCase{"detected", AesPolicy::k_detect, AesPolicy::k_detect},
                      SuiteCase{"server_without_aes", AesPolicy::k_assume_no_aes, AesPolicy::k_assume_aes},
                      SuiteCase{"client_without_aes", AesPolicy::k_assume_aes, AesPolicy::k_assume_no_aes},
                      SuiteCase{"both_with_aes", AesPolicy::k_assume_aes, AesPolicy::k_assume_aes},
                      SuiteCase{"server_prefers_aes", AesPolicy::k_prefer_aes, AesPolicy::k_assume_aes},
                      SuiteCase{"server_prefers_aes_client_without", AesPolicy::k_prefer_aes, AesPolicy::k_assume_no_aes}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace slimcache::agent::transfer
