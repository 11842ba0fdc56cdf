#include "agent/gossip/wire.hpp"

#include <gtest/gtest.h>

#include <random>

namespace slimcache::agent::gossip {
namespace {

Packet sample_packet() {
  Packet p;
  p.envelope = Envelope{"node-a", 7, 42};
  p.messages.push_back(Ping{1, "node-b", 0xabcdef});
  p.messages.push_back(IndirectPing{2, "node-c", "127.0.0.1:7000"});
  p.messages.push_back(Ack{3, 99});
  p.messages.push_back(Nack{4});
  p.messages.push_back(Suspect{5, "node-d", "node-a"});
  p.messages.push_back(Alive{6, "node-e", "[::1]:7001"});
  p.messages.push_back(Dead{7, "node-f", "node-f"});
  p.messages.push_back(StateDelta{"node-a", 3, 5, {StateEntry{"budget", 4, 4, 0, 2, {1, 2, 3}}, StateEntry{"budget", 5, 4, 1, 2, {4}}}});
  p.messages.push_back(StateDigest{k_digest_request, {{1, 2}, {3, 4}}});
  p.messages.push_back(PushPull{k_push_pull_join, "127.0.0.1:1", {{"node-a", "127.0.0.1:1", 3, MemberState::suspect}}, {{5, 6}},
                                {StateDelta{"node-a", 0, 1, {StateEntry{"k", 1, 1, 0, 1, {}}}}}});
  p.messages.push_back(StateHead{"node-g", 77});
  return p;
}

Bytes encode(const Packet& p) {
  Bytes out = encode_envelope(p.envelope);
  for (const auto& m : p.messages) {
    const Bytes f = encode_message(m);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

TEST(Wire, EveryMessageTypeRoundTrips) {
  const Packet in = sample_packet();
  const Bytes bytes = encode(in);

  auto sut = decode_packet(bytes, 1 << 20);

  ASSERT_TRUE(sut.has_value()) << sut.error().context;
  EXPECT_EQ(sut->envelope.sender, "node-a");
  EXPECT_EQ(sut->envelope.epoch, 7u);
  EXPECT_EQ(sut->envelope.seq, 42u);
  ASSERT_EQ(sut->messages.size(), in.messages.size());
  for (std::size_t i = 0; i < in.messages.size(); ++i) {
    EXPECT_EQ(type_of(sut->messages[i]), type_of(in.messages[i]));
    EXPECT_EQ(encode_message(sut->messages[i]), encode_message(in.messages[i])) << "message " << i;
  }
}

TEST(Wire, EveryTruncationIsAnErrorNeverACrash) {
  const Bytes bytes = encode(sample_packet());
  std::size_t errors = 0;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto sut = decode_packet(std::span<const std::uint8_t>(bytes.data(), n), 1 << 20);
    // A cut exactly between two messages is a valid, shorter packet; anything else fails.
    if (!sut.has_value()) ++errors;
  }
  EXPECT_GE(errors, bytes.size() - sample_packet().messages.size() - 1);
}

TEST(Wire, RandomGarbageNeverCrashes) {
  const std::uint64_t seed = 20261122;
  std::mt19937_64 rng(seed);
  const Bytes valid = encode(sample_packet());
  std::size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = valid;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    auto sut = decode_packet(b, 1 << 20);
    if (sut.has_value()) ++decoded;
  }
  Bytes noise(300);
  for (int i = 0; i < 5000; ++i) {
    for (auto& x : noise) x = static_cast<std::uint8_t>(rng());
    EXPECT_FALSE(decode_packet(noise, 1 << 20).has_value()) << "seed " << seed;  // bad magic
  }
  SUCCEED() << decoded << " mutated packets still decoded (seed " << seed << ")";
}

TEST(Wire, OversizedPacketIsRejected) {
  const Bytes bytes = encode(sample_packet());
  auto sut = decode_packet(bytes, bytes.size() - 1);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ErrorCode::oversized);
}

TEST(Wire, HugeCountsAreRejectedWithoutAllocating) {
  Bytes b = encode_envelope(Envelope{"x", 1, 1});
  // A digest claiming 2^40 entries in a 12-byte body.
  const Bytes body = {0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 1, 2, 3, 4, 5};
  b.push_back(static_cast<std::uint8_t>(MessageType::state_digest));
  b.push_back(static_cast<std::uint8_t>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  auto sut = decode_packet(b, 1 << 20);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ErrorCode::oversized);
}

TEST(Wire, UnknownMessageTypesAreSkippedAndCounted) {
  Bytes b = encode_envelope(Envelope{"x", 1, 1});
  b.insert(b.end(), {200, 3, 9, 9, 9});  // a type from a future version
  const Bytes ack = encode_message(Ack{5, 0});
  b.insert(b.end(), ack.begin(), ack.end());
  auto sut = decode_packet(b, 1 << 20);
  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->unknown_messages, 1u);
  ASSERT_EQ(sut->messages.size(), 1u);
  EXPECT_EQ(std::get<Ack>(sut->messages[0]).seq, 5u);
}

TEST(Wire, OtherWireVersionIsRejected) {
  Bytes b = encode_envelope(Envelope{"x", 1, 1});
  b[2] = k_wire_version + 1;
  auto sut = decode_packet(b, 1 << 20);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ErrorCode::bad_version);
}

TEST(Wire, EncodedSizeOfAnEntryIsExact) {
  const StateEntry e{"activation/layer-3", 10, 9, 1, 4, Bytes(700, 7)};
  const Bytes framed = encode_message(StateDelta{"o", 0, 10, {e}});
  // frame (type + 2-byte varint) + owner str8 + from + to + count(1) + entry
  EXPECT_EQ(framed.size(), 1 + 2 + (1 + 1) + 8 + 8 + 1 + encoded_size(e));
}

}  // namespace
}  // namespace slimcache::agent::gossip
