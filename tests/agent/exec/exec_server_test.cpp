// The execution service: the wire protocol, a server answering over its Unix socket, and a
// second server on loopback TLS that the first forwards to, all checked against the
// double-precision reference kernel (tests/agent/exec/reference_kernel.hpp) within its
// rigorous per-element bound.
#include "agent/exec/exec_server.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "agent/exec/exec_key.hpp"
#include "tests/agent/exec/generated_expert.hpp"
#include "tests/agent/exec/map_expert_source.hpp"
#include "tests/agent/exec/reference_kernel.hpp"

namespace slimcache::agent::exec {
namespace {

using testing::generate_activations;
using testing::generate_expert;
using testing::GeneratedExpert;
using testing::MapExpertSource;
using testing::reference_expert;

constexpr std::uint64_t k_seed = 9090;
constexpr std::uint32_t k_hidden = 48, k_ffn = 40, k_layers = 2, k_experts = 8;

std::shared_ptr<transfer::TlsContext> tls(transfer::TlsRole role, std::uint8_t key_byte = 7) {
  const std::vector<std::uint8_t> key(32, key_byte);
  transfer::TlsSettings settings;
  settings.role = role;
  settings.psk = derive_exec_psk(key, "test-cluster").value();
  return transfer::TlsContext::create(settings).value();
}

std::string socket_path(const std::string& tag) {
  return (std::filesystem::temp_directory_path() / ("slimexec-" + tag + "-" + std::to_string(::getpid()) + ".sock"))
      .string();
}

// Number of elements outside the reference bound; reports the first few.
int count_outside_bound(const std::vector<float>& got, const ExpertView& view, const std::vector<float>& x,
                        std::size_t tokens) {
  const auto ref = reference_expert(view, x, tokens);
  if (got.size() != ref.y.size()) {
    ADD_FAILURE() << "size " << got.size() << " != " << ref.y.size();
    return 1;
  }
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref.y[i]);
    if (!(err <= ref.bound[i]) && ++bad <= 3)
      ADD_FAILURE() << "element " << i << ": got " << got[i] << " reference " << ref.y[i] << " bound " << ref.bound[i];
  }
  return bad;
}

// Experts of every dtype and both kinds, expert e of layer 1 using dtype/kind by e.
struct Fixture {
  std::vector<GeneratedExpert> experts;  // index = expert id, layer 1
  Fixture() {
    const WeightDtype dtypes[] = {WeightDtype::k_f32, WeightDtype::k_bf16, WeightDtype::k_f16};
    for (std::uint32_t e = 0; e < k_experts; ++e) {
      const auto kind = e % 2 == 0 ? ExpertKind::k_swiglu : ExpertKind::k_two_matrix;
      experts.push_back(generate_expert(kind, dtypes[e % 3], k_hidden, k_ffn, k_seed + e));
    }
  }
  void fill(MapExpertSource& source, std::initializer_list<std::uint32_t> ids,
            ServedFrom served = ServedFrom::k_memory) const {
    for (auto e : ids) source.put(1, e, experts[e].payload.bytes(), served);
  }
};

ExecuteRequest make_request(std::initializer_list<std::pair<std::uint32_t, std::string>> experts, std::uint32_t tokens,
                            std::uint64_t seed) {
  ExecuteRequest q;
  q.request_id = seed;
  q.model = "m";
  q.layer = 1;
  q.tokens = tokens;
  q.hidden = k_hidden;
  for (const auto& [e, holder] : experts) q.experts.push_back({e, holder});
  q.x = generate_activations(static_cast<std::size_t>(tokens) * k_hidden, seed);
  return q;
}

TEST(ExecProtocol, RequestAndResponseSurviveARoundTrip) {
  auto q = make_request({{3, ""}, {5, "10.0.0.2:7948"}}, 2, k_seed);
  q.flags = k_local_only;
  const auto bytes = encode_request(q).value();
  const auto header = decode_frame_header(std::span(bytes).first(k_exec_header_size)).value();
  ASSERT_EQ(header.type, ExecFrameType::k_execute_request);
  ASSERT_EQ(header.length, bytes.size() - k_exec_header_size);
  const auto sut = decode_request_body(std::span(bytes).subspan(k_exec_header_size)).value();
  EXPECT_EQ(sut.request_id, q.request_id);
  EXPECT_EQ(sut.flags, k_local_only);
  EXPECT_EQ(sut.model, "m");
  ASSERT_EQ(sut.experts.size(), 2u);
  EXPECT_EQ(sut.experts[1].expert, 5u);
  EXPECT_EQ(sut.experts[1].holder, "10.0.0.2:7948");
  EXPECT_EQ(sut.x, q.x);

  ExecuteResponse p{77, 2, k_hidden, {}};
  p.experts.push_back({3, ExpertStatus::k_ok, ServedFrom::k_peer, std::vector<float>(2 * k_hidden, 1.5f)});
  p.experts.push_back({5, ExpertStatus::k_not_found, ServedFrom::k_none, {}});
  const auto rbytes = encode_response(p).value();
  const auto back = decode_response_body(std::span(rbytes).subspan(k_exec_header_size)).value();
  ASSERT_EQ(back.experts.size(), 2u);
  EXPECT_EQ(back.experts[0].y, p.experts[0].y);
  EXPECT_EQ(back.experts[0].served, ServedFrom::k_peer);
  EXPECT_EQ(back.experts[1].status, ExpertStatus::k_not_found);
  EXPECT_TRUE(back.experts[1].y.empty());
}

TEST(ExecProtocol, DecodersRejectBadMagicVersionLengthsAndCounts) {
  const auto q = make_request({{1, ""}}, 1, k_seed);
  auto bytes = encode_request(q).value();
  auto header = std::vector<std::byte>(bytes.begin(), bytes.begin() + k_exec_header_size);
  auto bad = header;
  bad[0] = std::byte{'X'};
  EXPECT_EQ(decode_frame_header(bad).error().code, ExecErrc::k_bad_magic);
  bad = header;
  bad[4] = std::byte{2};
  EXPECT_EQ(decode_frame_header(bad).error().code, ExecErrc::k_unsupported_version);
  bad = header;
  bad[11] = std::byte{0x7F};  // a 2 GiB body
  EXPECT_EQ(decode_frame_header(bad).error().code, ExecErrc::k_bad_header);
  const std::span body = std::span(bytes).subspan(k_exec_header_size);
  EXPECT_FALSE(decode_request_body(body.first(body.size() - 1)).has_value());  // hidden state short by a byte
  auto zero_experts = std::vector<std::byte>(body.begin(), body.end());
  const std::size_t count_at = 8 + 1 + 1 + 1 + 12;  // id, flags, model_len, "m", layer/tokens/hidden
  zero_experts[count_at] = std::byte{0};
  EXPECT_FALSE(decode_request_body(zero_experts).has_value());
  ExecuteRequest empty = q;
  empty.experts.clear();
  EXPECT_FALSE(encode_request(empty).has_value());
}

TEST(ExecServer, AnswersOverItsUnixSocketWithReferenceOutputsForEveryDtypeAndKind) {
  const Fixture f;
  MapExpertSource source("m", k_layers, k_experts);
  f.fill(source, {0, 1, 2, 3, 4, 5});
  ExecServerOptions options;
  options.unix_path = socket_path("local");
  options.kernel_threads = 2;
  auto sut = ExecServer::start(source, options).value();
  ExecConnection client(connect_unix(options.unix_path, std::chrono::seconds(10)).value());

  for (std::uint32_t tokens : {1u, 3u}) {
    const auto q = make_request({{0, ""}, {1, ""}, {2, ""}, {3, ""}, {4, ""}, {5, ""}}, tokens, k_seed + tokens);
    SCOPED_TRACE("tokens=" + std::to_string(tokens) + " seed=" + std::to_string(q.request_id));
    const auto answer = client.call(q);
    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    ASSERT_EQ(answer->experts.size(), 6u);
    for (std::size_t i = 0; i < 6; ++i) {
      ASSERT_EQ(answer->experts[i].status, ExpertStatus::k_ok);
      EXPECT_EQ(answer->experts[i].served, ServedFrom::k_memory);
      EXPECT_EQ(count_outside_bound(answer->experts[i].y, f.experts[i].view, q.x, tokens), 0) << "expert " << i;
    }
  }
  EXPECT_EQ(source.live_leases(), 0);
  EXPECT_EQ(sut->stats().experts_run, 12u);
  EXPECT_EQ(sut->stats().connections, 1u);  // one persistent connection for both requests
}

TEST(ExecServer, ReportsMissingExpertsAndRefusesAnotherModelWithoutDroppingTheConnection) {
  const Fixture f;
  MapExpertSource source("m", k_layers, k_experts);
  f.fill(source, {2});
  ExecServerOptions options;
  options.unix_path = socket_path("missing");
  auto sut = ExecServer::start(source, options).value();
  ExecConnection client(connect_unix(options.unix_path, std::chrono::seconds(10)).value());

  auto wrong = make_request({{2, ""}}, 1, k_seed);
  wrong.model = "other";
  const auto refused = client.call(wrong);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ExecErrc::k_remote);
  const auto answer = client.call(make_request({{2, ""}, {6, ""}}, 1, k_seed));
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  EXPECT_EQ(answer->experts[0].status, ExpertStatus::k_ok);
  EXPECT_EQ(answer->experts[1].status, ExpertStatus::k_not_found);
  EXPECT_TRUE(answer->experts[1].y.empty());
}

TEST(ExecServer, ClosesAConnectionThatSendsGarbageAfterSayingWhy) {
  MapExpertSource source("m", k_layers, k_experts);
  ExecServerOptions options;
  options.unix_path = socket_path("garbage");
  auto sut = ExecServer::start(source, options).value();
  auto stream = connect_unix(options.unix_path, std::chrono::seconds(10)).value();
  const std::vector<std::byte> garbage(k_exec_header_size, std::byte{0x41});
  ASSERT_TRUE(stream->write_all(garbage).has_value());
  const auto answer = read_frame(*stream);
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  EXPECT_EQ(answer->header.type, ExecFrameType::k_error);
  std::byte one[1];
  EXPECT_EQ(stream->read_exact(one).error().code, ExecErrc::k_disconnected);
  EXPECT_EQ(sut->stats().bad_requests, 1u);
}

TEST(ExecServer, ForwardsExpertsToTheirHolderOverTlsAndRunsTheRestLocally) {
  const Fixture f;
  MapExpertSource holder_source("m", k_layers, k_experts);
  f.fill(holder_source, {1, 2, 5});
  ExecServerOptions holder_options;
  holder_options.tls_server = tls(transfer::TlsRole::k_server);
  auto holder = ExecServer::start(holder_source, holder_options).value();
  const std::string holder_address = "127.0.0.1:" + std::to_string(holder->tcp_port());

  MapExpertSource local_source("m", k_layers, k_experts);
  f.fill(local_source, {0});
  ExecServerOptions options;
  options.unix_path = socket_path("fwd");
  options.tls_client = tls(transfer::TlsRole::k_client);
  auto sut = ExecServer::start(local_source, options).value();
  ExecConnection client(connect_unix(options.unix_path, std::chrono::seconds(10)).value());

  for (int round = 0; round < 2; ++round) {  // the second round reuses the pooled TLS connection
    const auto q = make_request({{0, ""}, {1, holder_address}, {2, holder_address}, {5, holder_address}}, 2,
                                k_seed + 100 + static_cast<std::uint64_t>(round));
    SCOPED_TRACE("seed=" + std::to_string(q.request_id));
    const auto answer = client.call(q);
    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    const std::uint32_t ids[] = {0, 1, 2, 5};
    for (std::size_t i = 0; i < 4; ++i) {
      ASSERT_EQ(answer->experts[i].status, ExpertStatus::k_ok) << "expert " << ids[i];
      EXPECT_EQ(answer->experts[i].served, i == 0 ? ServedFrom::k_memory : ServedFrom::k_peer);
      EXPECT_EQ(count_outside_bound(answer->experts[i].y, f.experts[ids[i]].view, q.x, 2), 0) << "expert " << ids[i];
    }
  }
  EXPECT_EQ(sut->stats().experts_forwarded, 6u);
  EXPECT_EQ(sut->stats().forward_failures, 0u);
  EXPECT_EQ(holder->stats().connections, 1u);
  EXPECT_EQ(holder->stats().experts_run, 6u);
}

TEST(ExecServer, FallsBackToRunningLocallyWhenTheHolderDoesNotAnswer) {
  const Fixture f;
  // A peer with another cluster key: its handshake fails, as a dead or foreign node would.
  MapExpertSource foreign_source("m", k_layers, k_experts);
  f.fill(foreign_source, {3});
  ExecServerOptions foreign_options;
  foreign_options.tls_server = tls(transfer::TlsRole::k_server, 9);
  auto foreign = ExecServer::start(foreign_source, foreign_options).value();

  MapExpertSource local_source("m", k_layers, k_experts);
  f.fill(local_source, {3}, ServedFrom::k_local_disk);
  ExecServerOptions options;
  options.unix_path = socket_path("fallback");
  options.tls_client = tls(transfer::TlsRole::k_client);
  options.forward_timeout = std::chrono::milliseconds(5000);
  auto sut = ExecServer::start(local_source, options).value();
  ExecConnection client(connect_unix(options.unix_path, std::chrono::seconds(10)).value());

  const auto q = make_request({{3, "127.0.0.1:" + std::to_string(foreign->tcp_port())}, {4, "127.0.0.1:1"}}, 1, k_seed);
  const auto answer = client.call(q);
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  ASSERT_EQ(answer->experts[0].status, ExpertStatus::k_ok);
  EXPECT_EQ(answer->experts[0].served, ServedFrom::k_local_disk);
  EXPECT_EQ(count_outside_bound(answer->experts[0].y, f.experts[3].view, q.x, 1), 0);
  EXPECT_EQ(answer->experts[1].status, ExpertStatus::k_unavailable);  // nobody has expert 4
  EXPECT_EQ(sut->stats().forward_failures, 2u);
  EXPECT_EQ(sut->stats().fallbacks, 2u);
  EXPECT_EQ(foreign->stats().experts_run, 0u);
}

TEST(ExecServer, PeersCannotMakeItForward) {
  const Fixture f;
  MapExpertSource source("m", k_layers, k_experts);
  f.fill(source, {1});
  ExecServerOptions options;
  options.tls_server = tls(transfer::TlsRole::k_server);
  options.tls_client = tls(transfer::TlsRole::k_client);
  auto sut = ExecServer::start(source, options).value();
  // A peer request naming a holder is still executed here.
  const auto q = make_request({{1, "127.0.0.1:1"}}, 1, k_seed);
  const auto answer = sut->execute(q, ExecServer::Origin::k_peer);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->experts[0].status, ExpertStatus::k_ok);
  EXPECT_EQ(sut->stats().forward_failures, 0u);
  EXPECT_EQ(sut->stats().experts_run, 1u);
}

}  // namespace
}  // namespace slimcache::agent::exec
