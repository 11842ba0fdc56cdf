#include "agent/admin/admin_protocol.hpp"

#include <gtest/gtest.h>

#include <random>

namespace slimcache::agent::admin {
namespace {

std::string body_of(const std::vector<std::uint8_t>& frame) {
  FrameReader reader;
  EXPECT_TRUE(reader.feed(frame).has_value());
  auto body = reader.next();
  EXPECT_TRUE(body.has_value());
  return body.value_or("");
}

TEST(AdminProtocol, RequestRoundTrips) {
  Request r;
  r.id = 42;
  r.cmd = "cache.pin";
  r.args = {{"layer", 3}, {"expert", 7}};
  auto sut = decode_request(body_of(encode_request(r)));
  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->id, 42u);
  EXPECT_EQ(sut->cmd, "cache.pin");
  EXPECT_EQ(sut->args["expert"], 7);
  EXPECT_EQ(sut->version, k_protocol_version);
}

TEST(AdminProtocol, ResponsesOfEveryKindRoundTrip) {
  Response progress{7, Response::Kind::k_progress, {{"done", 1}, {"total", 4}}, {}};
  Response result{7, Response::Kind::k_result, {{"members", 3}}, {}};
  Response error{7, Response::Kind::k_error, {}, {ErrorCode::k_bad_arguments, "layer out of range"}};
  EXPECT_EQ(decode_response(body_of(encode_response(progress)))->body["total"], 4);
  EXPECT_EQ(decode_response(body_of(encode_response(result)))->body["members"], 3);
  auto e = decode_response(body_of(encode_response(error)));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, Response::Kind::k_error);
  EXPECT_EQ(e->error.code, ErrorCode::k_bad_arguments);
  EXPECT_EQ(e->error.message, "layer out of range");
}

TEST(FrameReader, SplitsFramesFedOneByteAtATime) {
  Request a{1, 1, "status", {}};
  Request b{2, 1, "members", {}};
  auto bytes = encode_request(a);
  auto more = encode_request(b);
  bytes.insert(bytes.end(), more.begin(), more.end());
  FrameReader sut;
  std::vector<std::string> bodies;
  for (auto byte : bytes) {
    ASSERT_TRUE(sut.feed({&byte, 1}).has_value());
    while (auto body = sut.next()) bodies.push_back(*body);
  }
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(decode_request(bodies[1])->cmd, "members");
}

TEST(FrameReader, RejectsAnOversizedLengthPrefix) {
  FrameReader sut;
  const std::uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
  EXPECT_FALSE(sut.feed(huge).has_value());
  EXPECT_FALSE(sut.next().has_value());
  EXPECT_FALSE(sut.feed(huge).has_value());
}

TEST(AdminProtocol, RejectsMalformedRequests) {
  for (const char* body : {"", "[]", "{}", "{\"v\":1}", "{\"v\":1,\"cmd\":\"\"}", "{\"v\":1,\"cmd\":3}",
                           "{\"v\":\"1\",\"cmd\":\"status\"}", "{\"v\":1,\"cmd\":\"status\",\"args\":[]}",
                           "{\"v\":1,\"id\":-1,\"cmd\":\"status\"}", "\xff\xfe"}) {
    auto sut = decode_request(body);
    EXPECT_FALSE(sut.has_value()) << body;
    if (!sut.has_value()) {
      EXPECT_EQ(sut.error().code, ErrorCode::k_bad_request);
    }
  }
}

TEST(AdminProtocol, RandomBytesNeverCrashTheDecoders) {
  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (int i = 0; i < 2000; ++i) {
    std::string body(rng() % 64, '\0');
    for (auto& c : body) c = static_cast<char>(rng());
    (void)decode_request(body);
    (void)decode_response(body);
    FrameReader reader;
    (void)reader.feed({reinterpret_cast<const std::uint8_t*>(body.data()), body.size()});
    while (reader.next()) {
    }
  }
}

TEST(AdminProtocol, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(ErrorCode::k_permission_denied), "permission_denied");
  EXPECT_EQ(error_code_from_string("unsupported_version"), ErrorCode::k_unsupported_version);
  EXPECT_FALSE(error_code_from_string("nope").has_value());
}

}  // namespace
}  // namespace slimcache::agent::admin
