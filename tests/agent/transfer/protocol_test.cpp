#include "agent/transfer/protocol.hpp"

#include <gtest/gtest.h>

#include <mbedtls/sha256.h>

#include <cstring>
#include <random>

namespace slimcache::agent::transfer {
namespace {

BlobId sample_id() {
  BlobId id;
  for (std::size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return id;
}

template <typename T>
void poke_u64(T& bytes, std::size_t at, std::uint64_t value) {
  for (std::size_t i = 0; i < 8; ++i) bytes[at + i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}

TEST(TransferProtocol, RequestRoundTripsIdAndOffset) {
  const GetRequest request{k_protocol_version, sample_id(), 123456789012ull};

  auto sut = decode_request(encode_request(request));

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->id, request.id);
  EXPECT_EQ(sut->offset, request.offset);
}

TEST(TransferProtocol, RequestOfAnotherVersionIsRejectedAsUnsupported) {
  auto bytes = encode_request(GetRequest{k_protocol_version, sample_id(), 0});
  bytes[4] = std::byte{4};

  auto sut = decode_request(bytes);

  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, TransferErrc::k_unsupported_version);
}

TEST(TransferProtocol, Version3SessionRequestsHaveTheVersion2LayoutAndRoundTrip) {
  GetRequest stat;
  stat.version = k_protocol_version_3;
  stat.type = RequestType::k_stat_expert;
  stat.layer = 47;
  stat.expert = 127;
  const GetRequest range{k_protocol_version_3, sample_id(), 4096, 1 << 20};

  const auto stat_bytes = encode_request(stat);
  const auto range_bytes = encode_request(range);
  auto sut_stat = decode_request(stat_bytes);
  auto sut_range = decode_request(range_bytes);

  EXPECT_EQ(stat_bytes.size(), k_request_size_v2);
  EXPECT_EQ(request_size(std::span(range_bytes).first(k_request_size)).value(), k_request_size_v2);
  ASSERT_TRUE(sut_stat.has_value());
  EXPECT_EQ(sut_stat->version, k_protocol_version_3);
  EXPECT_EQ(sut_stat->type, RequestType::k_stat_expert);
  EXPECT_EQ(sut_stat->layer, 47u);
  EXPECT_EQ(sut_stat->expert, 127u);
  ASSERT_TRUE(sut_range.has_value());
  EXPECT_EQ(sut_range->offset, 4096u);
  EXPECT_EQ(sut_range->length, 1u << 20);
  const auto blob_frame = encode_blob_frame(BlobHeader{10, 0, 4096}, k_protocol_version_3);
  auto blob = decode_blob_body(std::span(blob_frame).subspan(k_frame_header_size), Limits{});
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ(blob->total_size, 10u);
}

TEST(TransferProtocol, Version2RangeRequestRoundTripsAndVersion1StaysFortyEightBytes) {
  const GetRequest range{k_protocol_version_2, sample_id(), 4096, 1 << 20};

  const auto bytes = encode_request(range);
  auto sut = decode_request(bytes);

  EXPECT_EQ(encode_request(GetRequest{k_protocol_version, sample_id(), 7}).size(), k_request_size);
  ASSERT_EQ(bytes.size(), k_request_size_v2);
  EXPECT_EQ(request_size(std::span(bytes.data(), k_request_size)).value(), k_request_size_v2);
  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->type, RequestType::k_get);
  EXPECT_EQ(sut->offset, 4096u);
  EXPECT_EQ(sut->length, 1u << 20);
}

TEST(TransferProtocol, StatExpertRoundTripsAndRejectsABlobIdOrAVersion1Form) {
  GetRequest stat;
  stat.version = k_protocol_version_2;
  stat.type = RequestType::k_stat_expert;
  stat.layer = 57;
  stat.expert = 255;
  auto bytes = encode_request(stat);
  auto with_id = bytes;
  with_id[8] = std::byte{1};
  auto as_v1 = stat;
  as_v1.version = k_protocol_version;
  const auto v1_bytes = encode_request(as_v1);

  auto sut = decode_request(bytes);

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->type, RequestType::k_stat_expert);
  EXPECT_EQ(sut->layer, 57u);
  EXPECT_EQ(sut->expert, 255u);
  EXPECT_EQ(decode_request(with_id).error().code, TransferErrc::k_protocol);
  EXPECT_EQ(decode_request(v1_bytes).error().code, TransferErrc::k_protocol);  // STAT needs version 2
  EXPECT_EQ(decode_request(std::span(bytes.data(), k_request_size)).error().code, TransferErrc::k_protocol);
}

TEST(TransferProtocol, InfoFrameRoundTripsAndRejectsAnAbsurdSize) {
  const Limits limits{1 << 20, 1 << 30};
  const auto frame = encode_info_frame(InfoBody{123456, sample_id()});
  auto head = decode_frame_header(std::span(frame.data(), k_frame_header_size), limits);
  ASSERT_TRUE(head.has_value());
  ASSERT_EQ(head->type, FrameType::k_info);
  auto huge = encode_info_frame(InfoBody{1ull << 50, sample_id()});

  auto sut = decode_info_body(std::span(frame.data() + k_frame_header_size, head->length), limits);

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->total_size, 123456u);
  EXPECT_EQ(sut->id, sample_id());
  EXPECT_EQ(decode_info_body(std::span(huge.data() + k_frame_header_size, k_info_body_size), limits).error().code,
            TransferErrc::k_too_large);
}

TEST(TransferProtocol, RequestWithBadMagicOrLengthIsRejected) {
  auto bytes = encode_request(GetRequest{k_protocol_version, sample_id(), 0});
  auto bad_magic = bytes;
  bad_magic[0] = std::byte{'X'};

  EXPECT_EQ(decode_request(bad_magic).error().code, TransferErrc::k_protocol);
  EXPECT_EQ(decode_request(std::span(bytes.data(), 47)).error().code, TransferErrc::k_protocol);
}

TEST(TransferProtocol, BlobHeaderRoundTrips) {
  const Limits limits;
  const auto frame = encode_blob_frame(BlobHeader{5000, 1000, 4096});
  auto head = decode_frame_header(std::span(frame.data(), k_frame_header_size), limits);
  ASSERT_TRUE(head.has_value());
  ASSERT_EQ(head->type, FrameType::k_blob);

  auto sut = decode_blob_body(std::span(frame.data() + k_frame_header_size, head->length), limits);

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->total_size, 5000u);
  EXPECT_EQ(sut->offset, 1000u);
  EXPECT_EQ(sut->chunk_size, 4096u);
}

TEST(TransferProtocol, PeerClaimingAPetabyteBlobIsRejectedBeforeAnyAllocation) {
  auto frame = encode_blob_frame(BlobHeader{1, 0, 4096});
  poke_u64(frame, k_frame_header_size + 4, 1ull << 50);  // 1 PiB

  auto sut = decode_blob_body(std::span(frame.data() + k_frame_header_size, k_blob_body_size), Limits{});

  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, TransferErrc::k_too_large);
}

TEST(TransferProtocol, ChunkLargerThanTheLimitIsRejected) {
  const Limits limits{64 * 1024, 1u << 30};
  const auto at_limit = encode_frame_header(FrameType::k_chunk, 64 * 1024);
  const auto over = encode_frame_header(FrameType::k_chunk, 64 * 1024 + 1);

  EXPECT_TRUE(decode_frame_header(at_limit, limits).has_value());
  auto sut = decode_frame_header(over, limits);

  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, TransferErrc::k_too_large);
}

TEST(TransferProtocol, OffsetPastTheEndAndUnknownFramesAreRejected) {
  auto frame = encode_blob_frame(BlobHeader{100, 101, 4096});
  auto past = decode_blob_body(std::span(frame.data() + k_frame_header_size, k_blob_body_size), Limits{});
  auto unknown = encode_frame_header(FrameType::k_end, 0);
  unknown[0] = std::byte{9};
  auto end_with_body = encode_frame_header(FrameType::k_end, 4);

  EXPECT_EQ(past.error().code, TransferErrc::k_protocol);
  EXPECT_EQ(decode_frame_header(unknown, Limits{}).error().code, TransferErrc::k_protocol);
  EXPECT_EQ(decode_frame_header(end_with_body, Limits{}).error().code, TransferErrc::k_protocol);
}

TEST(TransferProtocol, ErrorFrameCarriesCodeAndTruncatedMessage) {
  const auto frame = encode_error_frame(TransferErrc::k_not_found, std::string(1000, 'x'));
  auto head = decode_frame_header(std::span(frame.data(), k_frame_header_size), Limits{});
  ASSERT_TRUE(head.has_value());

  auto sut = decode_error_body(std::span(frame.data() + k_frame_header_size, head->length));

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->code, TransferErrc::k_not_found);
  EXPECT_EQ(sut->message.size(), k_max_error_message);
}

TEST(TransferProtocol, BlobIdParsesHexAndRejectsOtherText) {
  const BlobId id = sample_id();

  auto sut = BlobId::from_hex(id.hex());

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(*sut, id);
  EXPECT_FALSE(BlobId::from_hex("abc").has_value());
  EXPECT_FALSE(BlobId::from_hex(std::string(63, 'a') + "g").has_value());
}

TEST(TransferProtocol, BlobIdOfEmptyInputIsTheKnownSha256) {
  auto sut = BlobId::of({});

  // FIPS 180-2: SHA-256 of the empty string.
  EXPECT_EQ(sut.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Stream, MatchesMbedtlsForSeededLengthsAndSplits) {
  const std::uint64_t seed = 7'340'033;
  SCOPED_TRACE("seed " + std::to_string(seed) + ", accelerated " + std::to_string(Sha256Stream::accelerated()));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::byte> data(rng() % 1000);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    BlobId oracle;
    ASSERT_EQ(mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), oracle.bytes.data(), 0), 0);
    Sha256Stream sut;
    std::size_t pos = 0;
    while (pos < data.size()) {  // random pieces, including empty ones
      const std::size_t n = std::min<std::size_t>(data.size() - pos, rng() % 130);
      sut.update(std::span(data).subspan(pos, n));
      pos += n;
    }

    ASSERT_EQ(sut.digest(), oracle) << "round " << round << ", length " << data.size();
  }
}

}  // namespace
}  // namespace slimcache::agent::transfer
