#pragma once
// The gossip wire format, version 1. Decoding never trusts its input: every truncated,
// oversized or garbage buffer yields an Error, never a crash or an unbounded allocation.
//
// Plaintext packet (before sealing, keyring.hpp):
//   'S' 'G' wire_version:u8 sender:str8 epoch:u64 seq:u64 { message }*
//   message = type:u8 length:varint body[length]
// Integers are little-endian; str8 = u8 length + bytes; blob = varint length + bytes.
// Message types are append-only: a decoder skips types it does not know (counted), so
// newer nodes can talk to older ones. Changing a body's layout needs a new wire version.
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "agent/gossip/types.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::gossip {

inline constexpr std::uint8_t k_wire_version = 1;

enum class MessageType : std::uint8_t {
  ping = 1,
  indirect_ping = 2,
  ack = 3,
  nack = 4,
  suspect = 5,
  alive = 6,
  dead = 7,
  state_delta = 8,
  state_digest = 9,
  push_pull = 10,
  state_head = 11,
  // append new types here; never renumber
};

struct Ping {
  std::uint32_t seq = 0;
  std::string target;            // the node name the sender means to probe
  std::uint64_t state_summary = 0;
};
struct IndirectPing {
  std::uint32_t seq = 0;
  std::string target;
  Address target_address;
};
struct Ack {
  std::uint32_t seq = 0;
  std::uint64_t state_summary = 0;
};
struct Nack {
  std::uint32_t seq = 0;
};
struct Suspect {
  std::uint32_t incarnation = 0;
  std::string node;
  std::string from;
};
struct Alive {
  std::uint32_t incarnation = 0;
  std::string node;
  Address address;
};
struct Dead {
  std::uint32_t incarnation = 0;
  std::string node;
  std::string from;              // == node for a graceful leave
};
struct StateEntry {
  std::string key;
  std::uint64_t version = 0;
  std::uint64_t generation = 0;  // version of the set() this chunk belongs to
  std::uint16_t chunk = 0;
  std::uint16_t chunks = 1;
  Bytes bytes;
  friend bool operator==(const StateEntry&, const StateEntry&) = default;
};
// All of owner's current entries with from_version < version <= to_version.
struct StateDelta {
  std::string owner;
  std::uint64_t from_version = 0;
  std::uint64_t to_version = 0;
  std::vector<StateEntry> entries;
};
struct DigestEntry {
  std::uint64_t owner_id = 0;    // owner_id(name)
  std::uint64_t version = 0;
  friend bool operator==(const DigestEntry&, const DigestEntry&) = default;
};
enum DigestFlags : std::uint8_t { k_digest_request = 1 };
struct StateDigest {
  std::uint8_t flags = 0;
  std::vector<DigestEntry> entries;
};
// "owner has reached version": sent instead of large values, which travel by digest exchange.
struct StateHead {
  std::string owner;
  std::uint64_t version = 0;
};
struct PushPullMember {
  std::string name;
  Address address;
  std::uint32_t incarnation = 0;
  MemberState state = MemberState::alive;
};
enum PushPullFlags : std::uint8_t { k_push_pull_join = 1, k_push_pull_reply = 2 };
struct PushPull {
  std::uint8_t flags = 0;
  Address reply_to;
  std::vector<PushPullMember> members;
  std::vector<DigestEntry> digest;
  std::vector<StateDelta> deltas;
};

using Message = std::variant<Ping, IndirectPing, Ack, Nack, Suspect, Alive, Dead, StateDelta,
                             StateDigest, PushPull, StateHead>;

struct Envelope {
  std::string sender;
  std::uint64_t epoch = 0;       // sender's boot epoch: replay windows restart with it
  std::uint64_t seq = 0;         // per-sender packet counter
};

struct Packet {
  Envelope envelope;
  std::vector<Message> messages;
  std::uint32_t unknown_messages = 0;
};

[[nodiscard]] MessageType type_of(const Message& m);
// 64-bit id of a node name used in digests (xxHash64).
[[nodiscard]] std::uint64_t owner_id(const std::string& name);

// One message, framed (type, length, body): packets are an envelope plus framed messages.
[[nodiscard]] Bytes encode_message(const Message& m);
[[nodiscard]] Bytes encode_envelope(const Envelope& e);
// Decodes a whole plaintext packet. Fails on any malformed byte; max_size bounds it.
[[nodiscard]] Expected<Packet, Error> decode_packet(std::span<const std::uint8_t> bytes,
                                                    std::size_t max_size);

// Exact encoded sizes, for packing packets without encoding twice.
[[nodiscard]] std::size_t encoded_size(const StateEntry& e);
[[nodiscard]] std::size_t framed_size(std::size_t body);
inline constexpr std::size_t k_digest_entry_size = 16;

}  // namespace slimcache::agent::gossip
