#pragma once
// Vocabulary of the gossip subsystem: addresses, member states, errors, events, counters and
// the packets a protocol core asks its driver to send.
//
// The protocol core (gossip_node.hpp) does no I/O: it is fed bytes and time and returns
// Outgoing packets. Drivers (the Asio agent, the simulator) move the bytes.
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "platform/clock.hpp"

namespace slimcache::agent::gossip {

using platform::Duration;
using platform::TimePoint;
using Bytes = std::vector<std::uint8_t>;

// Where a node listens: "host:port" for the Asio driver, any opaque string in the simulator.
using Address = std::string;

enum class MemberState : std::uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };
[[nodiscard]] const char* to_string(MemberState s);

// Datagrams are unreliable and at most GossipConfig::packet_size bytes; streams are reliable
// (TCP) and used for push-pull and joins.
enum class Channel : std::uint8_t { datagram = 0, stream = 1 };

struct Outgoing {
  Address to;
  Channel channel = Channel::datagram;
  Bytes bytes;
};

enum class ErrorCode : std::uint8_t {
  truncated,       // the bytes end inside a field
  oversized,       // a length or count exceeds the limits of the format
  bad_version,     // unknown wire version or magic
  bad_value,       // a field has a value outside its domain
  unknown_key,     // encrypted under a key that is not in the keyring
  auth_failed,     // AES-GCM tag mismatch: tampered, wrong key or wrong label
  wrong_label,     // plaintext packet of another cluster
  invalid_argument,
  io,              // socket or resolver failure (drivers only)
};
[[nodiscard]] const char* to_string(ErrorCode c);

struct Error {
  ErrorCode code = ErrorCode::bad_value;
  std::string context;
};

// Why an incoming packet or message was dropped; counted in Counters::drops.
enum class DropReason : std::uint8_t {
  decode_error = 0,
  unknown_key,
  auth_failed,
  wrong_label,
  replayed,
  misdirected,     // a ping for another node name
  not_member,      // state for an owner that is not a live member
  oversized,       // a datagram larger than packet_size
  count_,
};
[[nodiscard]] const char* to_string(DropReason r);

struct Counters {
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t stream_sent = 0;      // stream frames (push-pull)
  std::uint64_t stream_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t probes = 0;
  std::uint64_t probe_failures = 0;   // probes that ended with a suspicion
  std::uint64_t refutes = 0;          // times this node refuted a suspicion of itself
  std::uint64_t refutes_repeated = 0; // its current Alive queued again on a stale accusation
  std::uint64_t state_syncs = 0;      // Scuttlebutt digest exchanges started
  std::uint64_t unknown_messages = 0; // message types from a newer version, skipped
  std::uint64_t members_refused = 0;  // new members not added: the table held max_members
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count_)> drops{};
  [[nodiscard]] std::uint64_t drop_count(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
};

enum class EventKind : std::uint8_t {
  member_join,     // a new member is alive
  member_update,   // a member is alive again (refuted, rejoined, address change)
  member_suspect,
  member_dead,
  member_left,
  member_reaped,   // removed after the dead grace period; its state is gone
  state_change,    // a complete new value of (node, key) is available
  member_refused,  // a new member was not added (table full); at most one per
                   // GossipNode::k_refusal_report_interval, `version` = refusals since the last one
};
[[nodiscard]] const char* to_string(EventKind k);

struct Event {
  EventKind kind = EventKind::member_join;
  std::string node;
  std::string key;          // state_change only
  std::uint64_t version = 0;
  TimePoint at{};
};

struct MemberInfo {
  std::string name;
  Address address;
  std::uint32_t incarnation = 0;
  MemberState state = MemberState::alive;
  TimePoint state_change{};
};

}  // namespace slimcache::agent::gossip
