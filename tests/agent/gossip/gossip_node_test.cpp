#include "agent/gossip/gossip_node.hpp"

#include <gtest/gtest.h>

namespace slimcache::agent::gossip {
namespace {

using namespace std::chrono_literals;

Key key_of(std::uint8_t b) {
  Key k{};
  k.fill(b);
  return k;
}

// A hand-driven peer: builds sealed packets as another node would.
struct Peer {
  std::string name;
  Keyring ring;
  std::string label = "test";
  std::uint64_t seq = 0;
  Bytes packet(std::vector<Message> msgs, std::uint64_t epoch = 1) {
    Bytes plain = encode_envelope(Envelope{name, epoch, ++seq});
    for (const auto& m : msgs) {
      const Bytes f = encode_message(m);
      plain.insert(plain.end(), f.begin(), f.end());
    }
    Nonce n{};
    n[0] = static_cast<std::uint8_t>(seq);
    n[1] = static_cast<std::uint8_t>(seq >> 8);
    return ring.seal(plain, label, n);
  }
  // Decodes what the node under test sent.
  std::vector<Message> read(const Outgoing& o) {
    auto plain = ring.open(o.bytes, label);
    EXPECT_TRUE(plain.has_value());
    if (!plain) return {};
    auto p = decode_packet(*plain, 1 << 24);
    EXPECT_TRUE(p.has_value());
    return p ? p->messages : std::vector<Message>{};
  }
};

class GossipNodeTest : public ::testing::Test {
 protected:
  TimePoint t0{std::chrono::seconds(1000)};
  GossipConfig config() {
    GossipConfig c = GossipConfig::lan("sut", "sut:1");
    c.label = "test";
    return c;
  }
  Keyring ring() {
    Keyring r;
    (void)r.install(key_of(1));
    return r;
  }
  Peer peer(const std::string& name) { return Peer{name, ring()}; }

  template <typename T>
  static std::vector<T> all_of(Peer& reader, const std::vector<Outgoing>& out, const Address& to = {}) {
    std::vector<T> found;
    for (const auto& o : out) {
      if (!to.empty() && o.to != to) continue;
      for (auto& m : reader.read(o))
        if (std::holds_alternative<T>(m)) found.push_back(std::get<T>(m));
    }
    return found;
  }
  // Teaches the node under test about members p1..pn (alive, incarnation 1).
  void add_members(GossipNode& sut, Peer& from, int n, TimePoint at) {
    std::vector<Message> alive;
    for (int i = 1; i <= n; ++i) alive.push_back(Alive{1, "p" + std::to_string(i), "p" + std::to_string(i) + ":1"});
    (void)sut.on_packet("p1:1", from.packet(alive), Channel::datagram, at);
    (void)sut.take_events();
  }
};

TEST_F(GossipNodeTest, PingIsAnsweredWithAnAckToTheSender) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");

  auto out = sut.on_packet("p1:1", p.packet({Ping{7, "sut", 0}}), Channel::datagram, t0);

  auto acks = all_of<Ack>(p, out, "p1:1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].seq, 7u);
}

TEST_F(GossipNodeTest, PingForAnotherNodeIsDroppedAsMisdirected) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");

  auto out = sut.on_packet("p1:1", p.packet({Ping{7, "someone-else", 0}}), Channel::datagram, t0);

  EXPECT_TRUE(all_of<Ack>(p, out).empty());
  EXPECT_EQ(sut.counters().drop_count(DropReason::misdirected), 1u);
}

TEST_F(GossipNodeTest, ReplayedPacketIsDroppedAndCounted) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  const Bytes pkt = p.packet({Ping{7, "sut", 0}});

  (void)sut.on_packet("p1:1", pkt, Channel::datagram, t0);
  auto out = sut.on_packet("p1:1", pkt, Channel::datagram, t0 + 1ms);

  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sut.counters().drop_count(DropReason::replayed), 1u);
}

TEST_F(GossipNodeTest, PacketsFromAnOlderEpochOfTheSenderAreReplays) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  (void)sut.on_packet("p1:1", p.packet({Ping{1, "sut", 0}}, 5), Channel::datagram, t0);

  auto out = sut.on_packet("p1:1", p.packet({Ping{2, "sut", 0}}, 4), Channel::datagram, t0);

  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sut.counters().drop_count(DropReason::replayed), 1u);
}

TEST_F(GossipNodeTest, TamperedUnknownKeyAndForeignLabelPacketsAreDroppedByReason) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  Bytes tampered = p.packet({Ping{1, "sut", 0}});
  tampered[tampered.size() - 20] ^= 0x40;
  Peer stranger{"p2", Keyring{}};
  (void)stranger.ring.install(key_of(9));
  Peer other_cluster = peer("p3");
  other_cluster.label = "other";

  (void)sut.on_packet("p1:1", tampered, Channel::datagram, t0);
  (void)sut.on_packet("p2:1", stranger.packet({Ping{1, "sut", 0}}), Channel::datagram, t0);
  (void)sut.on_packet("p3:1", other_cluster.packet({Ping{1, "sut", 0}}), Channel::datagram, t0);
  (void)sut.on_packet("p3:1", Bytes{1, 2, 3}, Channel::datagram, t0);
  (void)sut.on_packet("p3:1", Bytes(2000, 1), Channel::datagram, t0);

  EXPECT_EQ(sut.counters().drop_count(DropReason::auth_failed), 2u);
  EXPECT_EQ(sut.counters().drop_count(DropReason::unknown_key), 1u);
  EXPECT_EQ(sut.counters().drop_count(DropReason::decode_error), 1u);
  EXPECT_EQ(sut.counters().drop_count(DropReason::oversized), 1u);
  EXPECT_EQ(sut.members().size(), 1u);
}

TEST_F(GossipNodeTest, AliveMessageAddsAMemberAndReportsTheJoin) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");

  (void)sut.on_packet("p1:1", p.packet({Alive{1, "p1", "p1:1"}}), Channel::datagram, t0);

  auto m = sut.member("p1");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->state, MemberState::alive);
  EXPECT_EQ(m->address, "p1:1");
  auto events = sut.take_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::member_join);
}

TEST_F(GossipNodeTest, SuspicionOfOurselvesIsRefutedWithAHigherIncarnation) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 1, t0);
  const int health_before = sut.health_score();

  auto out = sut.on_packet("p1:1", p.packet({Suspect{1, "sut", "p1"}}), Channel::datagram, t0);
  out = sut.on_tick(t0 + 1s);  // the refutation goes out with the next gossip

  std::vector<Alive> ours;
  for (const auto& a : all_of<Alive>(p, out))
    if (a.node == "sut") ours.push_back(a);
  ASSERT_FALSE(ours.empty());
  for (const auto& a : ours) EXPECT_EQ(a.incarnation, 2u);
  EXPECT_EQ(sut.counters().refutes, 1u);
  EXPECT_GT(sut.health_score(), health_before);  // Lifeguard: refuting means we may be slow
}

// On a lossy link every transmission of a refutation can be lost while the accuser keeps
// telling us (buddy system) that we are suspect, with the incarnation we already refuted.
// Such a stale accusation must put our current Alive back on the wire, without a new
// incarnation; before, it was ignored and the accuser declared us dead.
TEST_F(GossipNodeTest, StaleAccusationsOfOurselvesRepeatTheRefutation) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 1, t0);
  (void)sut.on_packet("p1:1", p.packet({Suspect{1, "sut", "p1"}}), Channel::datagram, t0);
  auto ours = [&](const std::vector<Outgoing>& out) {
    std::size_t n = 0;
    for (const auto& a : all_of<Alive>(p, out))
      if (a.node == "sut") {
        EXPECT_EQ(a.incarnation, 2u);
        ++n;
      }
    return n;
  };
  // Tick until the refutation's transmissions are used up (every one of them "lost").
  TimePoint t = t0;
  std::size_t sent = 0;
  for (int i = 0; i < 200; ++i) sent += ours(sut.on_tick(t += 100ms));
  ASSERT_GT(sent, 0u);
  ASSERT_EQ(ours(sut.on_tick(t += 100ms)), 0u) << "the queue should be empty by now";

  for (const Message& stale : {Message{Suspect{1, "sut", "p1"}}, Message{Dead{1, "sut", "p1"}}}) {
    auto out = sut.on_packet("p1:1", p.packet({stale}), Channel::datagram, t);
    for (int i = 0; i < 20; ++i) {
      auto more = sut.on_tick(t += 100ms);
      out.insert(out.end(), more.begin(), more.end());
    }
    EXPECT_GT(ours(out), 0u);
  }
  EXPECT_EQ(sut.counters().refutes, 1u);  // no new incarnation
  EXPECT_EQ(sut.counters().refutes_repeated, 2u);
  ASSERT_TRUE(sut.member("sut").has_value());
  EXPECT_EQ(sut.member("sut")->incarnation, 2u);
}

TEST_F(GossipNodeTest, UnansweredProbeGoesIndirectThenSuspectsThenDeclaresDead) {
  GossipNode sut(config(), ring(), 7, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 5, t0);

  // Tick every 10 ms for 60 s; nobody ever answers.
  std::vector<Outgoing> sent;
  TimePoint suspected{}, dead{};
  std::string victim;
  for (TimePoint t = t0; t < t0 + 60s; t += 10ms) {
    auto out = sut.on_tick(t);
    sent.insert(sent.end(), out.begin(), out.end());
    for (const auto& e : sut.take_events()) {
      if (e.kind == EventKind::member_suspect && victim.empty()) {
        victim = e.node;
        suspected = e.at;
      }
      if (e.kind == EventKind::member_dead && e.node == victim && dead == TimePoint{}) dead = e.at;
    }
  }

  ASSERT_FALSE(victim.empty());
  EXPECT_EQ(all_of<IndirectPing>(p, sent).empty(), false);
  auto indirect = all_of<IndirectPing>(p, sent);
  EXPECT_EQ(indirect.front().target, victim);
  ASSERT_NE(dead, TimePoint{});
  // With nobody confirming, the suspicion runs close to its maximum: 6 x 4 x log10(6) s.
  const Duration min = Suspicion::min_timeout(4, 6, 1s);
  EXPECT_GE(dead - suspected, min);
  EXPECT_LE(dead - suspected, min * 6 + 10ms);
}

TEST_F(GossipNodeTest, AckBeforeTheTimeoutKeepsTheMemberAliveAndGivesAnRtt) {
  GossipNode sut(config(), ring(), 3, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 1, t0);

  // Answer every ping 3 ms later, for 20 s.
  for (TimePoint t = t0; t < t0 + 20s; t += 1ms) {
    for (const auto& o : sut.on_tick(t)) {
      for (const auto& ping : all_of<Ping>(p, {o})) {
        (void)sut.on_packet("p1:1", p.packet({Ack{ping.seq, 0}}), Channel::datagram, t + 3ms);
      }
    }
  }

  EXPECT_EQ(sut.member("p1")->state, MemberState::alive);
  auto rtt = sut.rtt().get("p1");
  ASSERT_TRUE(rtt.has_value());
  EXPECT_EQ(rtt->srtt, 3ms);
  EXPECT_EQ(sut.health_score(), 0);
}

TEST_F(GossipNodeTest, RelaysAnIndirectPingAndNacksWhenTheTargetIsSilent) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 2, t0);

  auto out = sut.on_packet("p1:1", p.packet({IndirectPing{42, "p2", "p2:1"}}), Channel::datagram, t0);
  auto pings = all_of<Ping>(p, out, "p2:1");
  ASSERT_EQ(pings.size(), 1u);
  std::vector<Outgoing> later;
  for (TimePoint t = t0; t <= t0 + 600ms; t += 10ms) {
    auto o = sut.on_tick(t);
    later.insert(later.end(), o.begin(), o.end());
  }

  auto nacks = all_of<Nack>(p, later, "p1:1");
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].seq, 42u);
}

TEST_F(GossipNodeTest, RelayForwardsTheTargetsAckToTheOrigin) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p1 = peer("p1"), p2 = peer("p2");
  add_members(sut, p1, 2, t0);
  auto out = sut.on_packet("p1:1", p1.packet({IndirectPing{42, "p2", "p2:1"}}), Channel::datagram, t0);
  const auto ping = all_of<Ping>(p1, out, "p2:1").at(0);

  out = sut.on_packet("p2:1", p2.packet({Ack{ping.seq, 0}}), Channel::datagram, t0 + 1ms);

  auto acks = all_of<Ack>(p1, out, "p1:1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].seq, 42u);
}

TEST_F(GossipNodeTest, DeadMemberIsReapedAfterTheGracePeriod) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 2, t0);

  (void)sut.on_packet("p1:1", p.packet({Dead{1, "p2", "p2"}}), Channel::datagram, t0);
  EXPECT_EQ(sut.member("p2")->state, MemberState::left);
  for (TimePoint t = t0; t < t0 + 32s; t += 100ms) (void)sut.on_tick(t);

  EXPECT_FALSE(sut.member("p2").has_value());
  bool reaped = false;
  for (const auto& e : sut.take_events()) reaped |= e.kind == EventKind::member_reaped && e.node == "p2";
  EXPECT_TRUE(reaped);
}

TEST_F(GossipNodeTest, AnotherNodesVerdictOnAMemberWeThinkAliveIsOnlyASuspicion) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 3, t0);

  (void)sut.on_packet("p1:1", p.packet({Dead{1, "p2", "p3"}}), Channel::datagram, t0);

  EXPECT_EQ(sut.member("p2")->state, MemberState::suspect);
}

TEST_F(GossipNodeTest, LeaveAnnouncesADeadMessageFromOurselves) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 3, t0);

  auto out = sut.leave(t0);

  auto dead = all_of<Dead>(p, out);
  ASSERT_FALSE(dead.empty());
  EXPECT_EQ(dead[0].node, "sut");
  EXPECT_EQ(dead[0].from, "sut");
}

TEST_F(GossipNodeTest, SmallStateUpdateIsPiggybackedAndAppliedByPeers) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 1, t0);
  const Bytes value{'4', '2'};

  ASSERT_TRUE(sut.set_state("budget", value).has_value());
  auto out = sut.on_tick(t0 + 1s);

  auto deltas = all_of<StateDelta>(p, out);
  ASSERT_FALSE(deltas.empty());
  EXPECT_EQ(deltas[0].owner, "sut");
  EXPECT_EQ(deltas[0].entries.at(0).bytes, value);

  // And the other way round: a peer's delta becomes readable state and an event.
  (void)sut.on_packet("p1:1", p.packet({StateDelta{"p1", 0, 1, {StateEntry{"budget", 1, 1, 0, 1, value}}}}),
                      Channel::datagram, t0 + 2s);
  EXPECT_EQ(sut.state("p1", "budget"), value);
  bool changed = false;
  for (const auto& e : sut.take_events()) changed |= e.kind == EventKind::state_change && e.node == "p1" && e.key == "budget";
  EXPECT_TRUE(changed);
}

TEST_F(GossipNodeTest, StateOfStrangersIsDropped) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p9");

  (void)sut.on_packet("p9:1", p.packet({StateDelta{"p9", 0, 1, {StateEntry{"k", 1, 1, 0, 1, {1}}}}}), Channel::datagram, t0);

  EXPECT_FALSE(sut.state("p9", "k").has_value());
  EXPECT_EQ(sut.counters().drop_count(DropReason::not_member), 1u);
}

TEST_F(GossipNodeTest, PushPullJoinIsAnsweredWithOurMembersOverTheStream) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 2, t0);
  Peer joiner = peer("new");
  PushPull req;
  req.flags = k_push_pull_join;
  req.reply_to = "new:1";
  req.members = {{"new", "new:1", 1, MemberState::alive}};

  auto out = sut.on_packet("new:1", joiner.packet({req}), Channel::stream, t0);

  auto replies = all_of<PushPull>(joiner, out, "new:1");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(out.front().channel, Channel::stream);
  EXPECT_NE(replies[0].flags & k_push_pull_reply, 0);
  EXPECT_EQ(replies[0].members.size(), 4u);  // sut, p1, p2 and the joiner
  EXPECT_EQ(sut.member("new")->state, MemberState::alive);
}

TEST_F(GossipNodeTest, EveryDatagramFitsThePacketSize) {
  GossipNode sut(config(), ring(), 1, 1, t0);
  Peer p = peer("p1");
  add_members(sut, p, 60, t0);  // 60 alive broadcasts queued at once
  for (int i = 0; i < 40; ++i) (void)sut.set_state("k" + std::to_string(i), Bytes(400, 1));

  for (TimePoint t = t0; t < t0 + 5s; t += 10ms)
    for (const auto& o : sut.on_tick(t))
      if (o.channel == Channel::datagram) {
        EXPECT_LE(o.bytes.size(), 1400u);
      }
}

}  // namespace
}  // namespace slimcache::agent::gossip
