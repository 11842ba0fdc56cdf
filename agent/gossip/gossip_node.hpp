#pragma once
// The gossip protocol core: SWIM membership with the Lifeguard extensions, piggybacked
// broadcasts, periodic push-pull, and Scuttlebutt reconciliation of node state
// (node_state.hpp). It does no I/O and reads no clock: drivers feed it bytes with
// on_packet(from, bytes, channel, now) and time with on_tick(now), and send the Outgoing
// packets it returns. Calling on_tick at next_deadline() (or more often) is enough.
//
// Protocol (memberlist's, see docs/gossip.md): every probe_interval (x health) ping the
// next member in a shuffled round-robin; without an ack by probe_timeout (x health) ask
// indirect_checks members to ping it (they nack if they hear nothing); without any ack by
// the end of the interval suspect it. Suspicions time out (Lifeguard, suspicion.hpp) into
// dead unless the member refutes with a higher incarnation. Membership changes and small
// state updates are piggybacked on every datagram up to retransmit_mult*ceil(log10(n+1))
// times, to gossip_nodes random members every gossip_interval (dead members included for
// gossip_to_the_dead, and told so, which heals partitions). Push-pull over the stream
// channel exchanges full membership and state digests every push_pull_interval (scaled
// above 32 nodes like Serf) and on join. Dead members are reaped after gossip_to_the_dead.
//
// Member limit: the table holds at most config.max_members entries (self and members not
// yet reaped). While it is full, a node not in it is refused (counted in
// Counters::members_refused; a member_refused event at most every
// k_refusal_report_interval) and no discovery push-pull is started for unknown senders;
// members already in the table are handled exactly as before. Replay windows of senders
// that are not members are dropped when there are 2 x max_members of them.
//
// Security: every packet is sealed with the keyring (keyring.hpp) under the cluster label
// and carries (sender, epoch, seq); packets that fail to open, to decode, or that replay
// a seen (sender, epoch, seq) are dropped and counted by reason.
//
// Threads: not thread-safe; one owner calls everything. Ownership: owns its state.
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/gossip/awareness.hpp"
#include "agent/gossip/broadcast_queue.hpp"
#include "agent/gossip/config.hpp"
#include "agent/gossip/keyring.hpp"
#include "agent/gossip/node_state.hpp"
#include "agent/gossip/replay_window.hpp"
#include "agent/gossip/rtt_table.hpp"
#include "agent/gossip/suspicion.hpp"
#include "agent/gossip/wire.hpp"

namespace slimcache::agent::gossip {

class GossipNode {
 public:
  static constexpr Duration k_refusal_report_interval = std::chrono::seconds(10);

  // seed drives every random choice (and nonces); epoch must grow across restarts of the
  // same node name (for example the Unix time at start).
  GossipNode(GossipConfig config, Keyring keyring, std::uint64_t seed, std::uint64_t epoch, TimePoint now);

  // Push-pull with each seed address (stream channel).
  [[nodiscard]] std::vector<Outgoing> join(const std::vector<Address>& seeds, TimePoint now);
  // Announces a graceful leave and gossips it at once; keep ticking a few gossip intervals
  // before stopping so it spreads. Probing stops.
  [[nodiscard]] std::vector<Outgoing> leave(TimePoint now);
  [[nodiscard]] std::vector<Outgoing> on_packet(const Address& from, std::span<const std::uint8_t> bytes,
                                                Channel channel, TimePoint now);
  [[nodiscard]] std::vector<Outgoing> on_tick(TimePoint now);
  [[nodiscard]] TimePoint next_deadline() const;

  // Local node state. Fails for an empty key or a key over 255 bytes.
  Expected<void, Error> set_state(const std::string& key, std::span<const std::uint8_t> value);
  [[nodiscard]] std::optional<Bytes> state(const std::string& node, const std::string& key) const;
  [[nodiscard]] std::uint64_t state_version(const std::string& node, const std::string& key) const;
  [[nodiscard]] std::vector<std::string> state_keys(const std::string& node) const;

  [[nodiscard]] std::vector<MemberInfo> members() const;
  [[nodiscard]] std::optional<MemberInfo> member(const std::string& name) const;
  [[nodiscard]] std::size_t alive_count() const;  // alive or suspect, self included
  [[nodiscard]] std::size_t count(MemberState state) const;  // self included
  // Membership and state events since the last call, oldest first.
  [[nodiscard]] std::vector<Event> take_events();

  [[nodiscard]] Keyring& keyring() { return m_keyring; }
  [[nodiscard]] const RttTable& rtt() const { return m_rtt; }
  [[nodiscard]] const Counters& counters() const { return m_counters; }
  [[nodiscard]] int health_score() const { return m_awareness.score(); }
  [[nodiscard]] const std::string& name() const { return m_config.name; }
  [[nodiscard]] const GossipConfig& config() const { return m_config; }
  [[nodiscard]] std::size_t broadcast_backlog() const { return m_broadcasts.size(); }

  // Forward fresh broadcasts at once instead of at the next gossip tick (at most every
  // gossip_interval / 4). On by default; off reproduces memberlist's timing exactly.
  void set_eager_forwarding(bool on) { m_eager = on; }

 private:
  struct Member {
    std::string name;
    Address address;
    std::uint32_t incarnation = 0;
    MemberState state = MemberState::alive;
    TimePoint state_change{};
    std::optional<Suspicion> suspicion;
  };
  struct Probe {
    std::uint32_t seq = 0;
    std::string target;
    TimePoint sent{};
    TimePoint timeout_at{};
    TimePoint deadline{};
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  struct Relay {
    Address origin;
    std::uint32_t origin_seq = 0;
    TimePoint nack_at{};
    TimePoint expire{};
    bool nack_sent = false;
  };

  // sending
  void send(const Address& to, std::vector<Bytes> framed, Channel channel, bool piggyback);
  void send_one(const Address& to, const Message& m, bool piggyback = true) { send(to, {encode_message(m)}, Channel::datagram, piggyback); }
  [[nodiscard]] std::size_t datagram_budget() const;
  void broadcast(std::string key, const Message& m) { m_broadcasts.push(std::move(key), encode_message(m)); }
  Nonce next_nonce();

  // handlers
  void handle(const Address& from, const std::string& sender, Message& m, Channel channel, TimePoint now);
  void handle_ping(const Address& from, const std::string& sender, const Ping& p, TimePoint now);
  void handle_ack(const std::string& sender, const Ack& a, TimePoint now);
  void handle_alive(const Alive& a, TimePoint now);
  void handle_suspect(const Suspect& s, TimePoint now);
  void handle_dead(const Dead& d, TimePoint now);
  void handle_delta(const StateDelta& d, bool rebroadcast, TimePoint now);
  void handle_push_pull(const std::string& sender, PushPull& p, TimePoint now);
  void refute(std::uint32_t accused_incarnation);
  void repeat_refutation();

  // timers
  void start_probe(TimePoint now);
  void probe_timed_out(TimePoint now);
  void probe_failed(TimePoint now);
  void gossip(TimePoint now);
  void sync_state(TimePoint now);
  void push_pull(const Address& to, std::uint8_t flags);
  void reap(TimePoint now);
  [[nodiscard]] Duration push_pull_interval() const;

  // members
  Member* find(const std::string& name);
  const Member* find(const std::string& name) const;
  Member& add_member(const std::string& name, const Address& address, std::uint32_t incarnation, TimePoint now);
  template <typename Pred>
  std::vector<const Member*> random_members(int k, Pred pred);
  template <typename Pred>
  std::vector<const Member*> next_gossip_targets(int k, Pred pred);
  void refuse_member(const std::string& name, TimePoint now);
  [[nodiscard]] bool table_full() const { return m_nodes.size() >= m_config.max_members; }
  void emit(EventKind kind, const std::string& node, TimePoint now, const std::string& key = {}, std::uint64_t version = 0);
  static bool live(MemberState s) { return s == MemberState::alive || s == MemberState::suspect; }

  GossipConfig m_config;
  Keyring m_keyring;
  std::mt19937_64 m_rng;
  std::uint64_t m_epoch;
  std::uint64_t m_packet_seq = 0;
  std::uint32_t m_seq = 0;
  std::uint32_t m_incarnation = 1;
  bool m_leaving = false;
  bool m_eager = true;

  std::vector<Member> m_nodes;                       // self included
  std::unordered_map<std::string, std::size_t> m_index;
  std::size_t m_probe_index = 0;
  std::vector<std::string> m_gossip_order;  // shuffled round-robin of gossip targets
  std::size_t m_gossip_index = 0;
  std::set<std::string> m_suspects;
  mutable std::optional<TimePoint> m_suspicion_deadline;  // cache of the earliest; reset on change
  std::optional<Probe> m_probe;
  std::map<std::uint32_t, Relay> m_relays;
  std::unordered_map<std::string, ReplayWindow> m_replay;

  Awareness m_awareness;
  BroadcastQueue m_broadcasts;
  StateStore m_store;
  RttTable m_rtt;
  Counters m_counters;
  std::vector<Event> m_events;
  std::vector<Outgoing> m_out;
  std::optional<std::string> m_sync_candidate;

  TimePoint m_next_probe{};
  TimePoint m_next_gossip{};
  TimePoint m_next_sync{};
  TimePoint m_next_push_pull{};
  TimePoint m_next_reap{};
  TimePoint m_last_gossip{};
  std::unordered_map<std::string, TimePoint> m_discovery;  // unknown senders we pulled from
  std::uint64_t m_refused_unreported = 0;
  std::optional<TimePoint> m_last_refusal_report;
};

}  // namespace slimcache::agent::gossip
