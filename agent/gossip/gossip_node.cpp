#include "agent/gossip/gossip_node.hpp"

#include <algorithm>
#include <cmath>

namespace slimcache::agent::gossip {

namespace {
std::vector<Outgoing> take(std::vector<Outgoing>& out) {
  std::vector<Outgoing> r;
  r.swap(out);
  return r;
}
Duration jitter(std::mt19937_64& rng, Duration upto) {
  if (upto.count() <= 0) return Duration{0};
  return Duration(static_cast<Duration::rep>(rng() % static_cast<std::uint64_t>(upto.count())));
}
constexpr std::size_t k_stream_message_budget = 1u << 20;
}  // namespace

GossipNode::GossipNode(GossipConfig config, Keyring keyring, std::uint64_t seed, std::uint64_t epoch, TimePoint now)
    : m_config(std::move(config)),
      m_keyring(std::move(keyring)),
      m_rng(seed),
      m_epoch(epoch),
      m_awareness(m_config.awareness_max_multiplier),
      m_broadcasts(m_config.broadcast_queue_max),
      m_store(m_config.name, m_config.state_chunk_size, m_config.state_first_version) {
  Member& self = add_member(m_config.name, m_config.address, m_incarnation, now);
  self.state = MemberState::alive;
  m_events.clear();  // no join event for ourselves
  broadcast(m_config.name, Alive{m_incarnation, m_config.name, m_config.address});
  m_next_probe = now + jitter(m_rng, m_config.probe_interval);
  m_next_gossip = now + jitter(m_rng, m_config.gossip_interval);
  m_next_sync = now + jitter(m_rng, m_config.state_sync_interval);
  m_next_push_pull = now + m_config.push_pull_interval / 2 + jitter(m_rng, m_config.push_pull_interval);
  m_next_reap = now + std::chrono::seconds(1);
}

// ------------------------------------------------------------------ members

GossipNode::Member* GossipNode::find(const std::string& name) {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : &m_nodes[it->second];
}
const GossipNode::Member* GossipNode::find(const std::string& name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : &m_nodes[it->second];
}

GossipNode::Member& GossipNode::add_member(const std::string& name, const Address& address, std::uint32_t incarnation,
                                           TimePoint now) {
  Member m;
  m.name = name;
  m.address = address;
  m.incarnation = incarnation;
  m.state = MemberState::alive;
  m.state_change = now;
  // Insert at a random position so new members are probed fairly (memberlist does the same).
  m_nodes.push_back(std::move(m));
  m_index[name] = m_nodes.size() - 1;
  if (m_nodes.size() > 1) {
    const std::size_t j = m_rng() % m_nodes.size();
    std::swap(m_nodes[j], m_nodes.back());
    m_index[m_nodes[j].name] = j;
    m_index[m_nodes.back().name] = m_nodes.size() - 1;
  }
  m_store.add_owner(name);
  m_store.set_active(name, true);
  if (name != m_config.name) {
    // Into the rest of the current gossip pass at a random place.
    const std::size_t left = m_gossip_order.size() - std::min(m_gossip_index, m_gossip_order.size());
    const std::size_t at = m_gossip_order.size() - (left == 0 ? 0 : m_rng() % (left + 1));
    m_gossip_order.insert(m_gossip_order.begin() + static_cast<std::ptrdiff_t>(at), name);
  }
  emit(EventKind::member_join, name, now);
  return *find(name);
}

template <typename Pred>
std::vector<const GossipNode::Member*> GossipNode::random_members(int k, Pred pred) {
  std::vector<const Member*> out;
  const std::size_t n = m_nodes.size();
  for (std::size_t i = 0; i < 3 * n && static_cast<int>(out.size()) < k; ++i) {
    const Member& m = m_nodes[m_rng() % n];
    if (m.name == m_config.name || !pred(m)) continue;
    if (std::find(out.begin(), out.end(), &m) != out.end()) continue;
    out.push_back(&m);
  }
  return out;
}

template <typename Pred>
std::vector<const GossipNode::Member*> GossipNode::next_gossip_targets(int k, Pred pred) {
  // A shuffled round-robin: each member is picked once per pass, so a broadcast's
  // retransmissions from one node reach distinct members (fewer misses than random picks).
  std::vector<const Member*> out;
  for (std::size_t steps = 0; steps < m_gossip_order.size() + 1 && static_cast<int>(out.size()) < k; ++steps) {
    if (m_gossip_index >= m_gossip_order.size()) {
      m_gossip_order.clear();
      for (const auto& m : m_nodes)
        if (m.name != m_config.name) m_gossip_order.push_back(m.name);
      std::shuffle(m_gossip_order.begin(), m_gossip_order.end(), m_rng);
      m_gossip_index = 0;
      if (m_gossip_order.empty()) break;
    }
    const Member* m = find(m_gossip_order[m_gossip_index++]);
    if (m == nullptr || !pred(*m) || std::find(out.begin(), out.end(), m) != out.end()) continue;
    out.push_back(m);
  }
  return out;
}

void GossipNode::refuse_member(const std::string& name, TimePoint now) {
  ++m_counters.members_refused;
  ++m_refused_unreported;
  if (m_last_refusal_report && now - *m_last_refusal_report < k_refusal_report_interval) return;
  emit(EventKind::member_refused, name, now, {}, m_refused_unreported);
  m_refused_unreported = 0;
  m_last_refusal_report = now;
}

void GossipNode::emit(EventKind kind, const std::string& node, TimePoint now, const std::string& key, std::uint64_t version) {
  m_events.push_back(Event{kind, node, key, version, now});
}

std::vector<MemberInfo> GossipNode::members() const {
  std::vector<MemberInfo> out;
  out.reserve(m_nodes.size());
  for (const auto& m : m_nodes) out.push_back({m.name, m.address, m.incarnation, m.state, m.state_change});
  std::sort(out.begin(), out.end(), [](const MemberInfo& a, const MemberInfo& b) { return a.name < b.name; });
  return out;
}

std::optional<MemberInfo> GossipNode::member(const std::string& name) const {
  const Member* m = find(name);
  if (m == nullptr) return std::nullopt;
  return MemberInfo{m->name, m->address, m->incarnation, m->state, m->state_change};
}

std::size_t GossipNode::alive_count() const {
  return static_cast<std::size_t>(std::count_if(m_nodes.begin(), m_nodes.end(), [](const Member& m) { return live(m.state); }));
}

std::size_t GossipNode::count(MemberState state) const {
  return static_cast<std::size_t>(std::count_if(m_nodes.begin(), m_nodes.end(), [&](const Member& m) { return m.state == state; }));
}

std::vector<Event> GossipNode::take_events() {
  std::vector<Event> r;
  r.swap(m_events);
  return r;
}

// ------------------------------------------------------------------ state API

Expected<void, Error> GossipNode::set_state(const std::string& key, std::span<const std::uint8_t> value) {
  if (key.empty() || key.size() > 255) return Unexpected(Error{ErrorCode::invalid_argument, "state keys are 1 to 255 bytes"});
  if (value.size() > m_config.state_chunk_size * 65535) return Unexpected(Error{ErrorCode::oversized, "value too large"});
  StateDelta d = m_store.set_local(key, value);
  if (value.size() <= m_config.state_broadcast_max) {
    broadcast("s:" + m_config.name + ":" + key, d);
  } else {
    broadcast("h:" + m_config.name, StateHead{m_config.name, d.to_version});
  }
  return {};
}

std::optional<Bytes> GossipNode::state(const std::string& node, const std::string& key) const { return m_store.get(node, key); }
std::uint64_t GossipNode::state_version(const std::string& node, const std::string& key) const {
  return m_store.value_version(node, key);
}
std::vector<std::string> GossipNode::state_keys(const std::string& node) const { return m_store.keys(node); }

// ------------------------------------------------------------------ sending

Nonce GossipNode::next_nonce() {
  Nonce n{};
  const std::uint64_t a = m_rng();
  const std::uint64_t b = m_rng();
  for (int i = 0; i < 8; ++i) n[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(a >> (8 * i));
  for (int i = 0; i < 4; ++i) n[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(b >> (8 * i));
  return n;
}

std::size_t GossipNode::datagram_budget() const {
  const std::size_t envelope = 3 + 1 + m_config.name.size() + 16;
  const std::size_t overhead = envelope + m_keyring.overhead();
  return m_config.packet_size > overhead ? m_config.packet_size - overhead : 0;
}

void GossipNode::send(const Address& to, std::vector<Bytes> framed, Channel channel, bool piggyback) {
  const std::size_t budget = channel == Channel::datagram ? datagram_budget() : m_config.stream_max;
  std::vector<std::vector<Bytes>> packets(1);
  std::size_t used = 0;
  for (auto& f : framed) {
    if (f.size() > budget) continue;  // cannot happen for messages built within budget
    if (used + f.size() > budget) {
      packets.emplace_back();
      used = 0;
    }
    used += f.size();
    packets.back().push_back(std::move(f));
  }
  if (piggyback && channel == Channel::datagram && !m_leaving) {
    for (auto& b : m_broadcasts.take(budget - used, m_nodes.size(), m_config.retransmit_mult)) packets.back().push_back(std::move(b));
  } else if (piggyback && channel == Channel::datagram) {
    for (auto& b : m_broadcasts.take(budget - used, m_nodes.size(), m_config.retransmit_mult)) packets.back().push_back(std::move(b));
  }
  for (auto& msgs : packets) {
    if (msgs.empty()) continue;
    Bytes plain = encode_envelope(Envelope{m_config.name, m_epoch, ++m_packet_seq});
    for (const auto& f : msgs) plain.insert(plain.end(), f.begin(), f.end());
    Outgoing o;
    o.to = to;
    o.channel = channel;
    o.bytes = m_keyring.seal(plain, m_config.label, next_nonce());
    ++m_counters.packets_sent;
    if (channel == Channel::stream) ++m_counters.stream_sent;
    m_counters.bytes_sent += o.bytes.size();
    m_counters.messages_sent += msgs.size();
    m_out.push_back(std::move(o));
  }
}

// ------------------------------------------------------------------ receiving

std::vector<Outgoing> GossipNode::on_packet(const Address& from, std::span<const std::uint8_t> bytes, Channel channel,
                                            TimePoint now) {
  ++m_counters.packets_received;
  if (channel == Channel::stream) ++m_counters.stream_received;
  m_counters.bytes_received += bytes.size();
  auto drop = [this](DropReason r) {
    ++m_counters.drops[static_cast<std::size_t>(r)];
    return take(m_out);
  };
  const std::size_t limit = channel == Channel::datagram ? m_config.packet_size : m_config.stream_max;
  if (bytes.size() > limit) return drop(DropReason::oversized);
  auto plain = m_keyring.open(bytes, m_config.label);
  if (!plain) return drop(plain.error());
  auto packet = decode_packet(*plain, limit);
  if (!packet) return drop(DropReason::decode_error);
  m_counters.unknown_messages += packet->unknown_messages;
  const std::string& sender = packet->envelope.sender;
  if (sender == m_config.name) return drop(DropReason::replayed);  // our own packet reflected back
  // Replay windows of senders that are not members are forgotten once the map reaches twice
  // the member limit, so refused (or made-up) senders cannot grow it without bound.
  if (m_replay.size() >= 2 * m_config.max_members && !m_replay.contains(sender))
    std::erase_if(m_replay, [this](const auto& entry) { return find(entry.first) == nullptr; });
  if (!m_replay[sender].accept(packet->envelope.epoch, packet->envelope.seq)) return drop(DropReason::replayed);
  // A member we have never heard of: pull its view (rate-limited), so a lost join
  // announcement does not wait for the next periodic push-pull.
  if (find(sender) == nullptr && channel == Channel::datagram && !table_full()) {
    auto [it, fresh] = m_discovery.try_emplace(sender, now);
    if (fresh || now - it->second >= m_config.probe_interval) {
      it->second = now;
      push_pull(from, 0);
    }
    if (m_discovery.size() > 4096) m_discovery.clear();
  }
  const std::uint64_t pushed = m_broadcasts.pushed();
  for (auto& m : packet->messages) {
    ++m_counters.messages_received;
    handle(from, sender, m, channel, now);
  }
  if (m_eager && !m_leaving && m_broadcasts.pushed() != pushed && now - m_last_gossip >= m_config.gossip_interval / 4) gossip(now);
  return take(m_out);
}

void GossipNode::handle(const Address& from, const std::string& sender, Message& msg, Channel channel, TimePoint now) {
  switch (type_of(msg)) {
    case MessageType::ping: handle_ping(from, sender, std::get<Ping>(msg), now); break;
    case MessageType::indirect_ping: {
      const auto& ip = std::get<IndirectPing>(msg);
      const std::uint32_t seq = ++m_seq;
      m_relays[seq] = Relay{from, ip.seq, now + m_config.probe_timeout, now + m_config.probe_interval * 2, false};
      send_one(ip.target_address, Ping{seq, ip.target, m_store.summary()});
      break;
    }
    case MessageType::ack: handle_ack(sender, std::get<Ack>(msg), now); break;
    case MessageType::nack:
      if (m_probe && m_probe->seq == std::get<Nack>(msg).seq) ++m_probe->nacks;
      break;
    case MessageType::alive: handle_alive(std::get<Alive>(msg), now); break;
    case MessageType::suspect: handle_suspect(std::get<Suspect>(msg), now); break;
    case MessageType::dead: handle_dead(std::get<Dead>(msg), now); break;
    case MessageType::state_delta: handle_delta(std::get<StateDelta>(msg), channel == Channel::datagram, now); break;
    case MessageType::state_head: {
      const auto& h = std::get<StateHead>(msg);
      const Member* m = find(h.owner);
      if (m == nullptr || !live(m->state) || h.owner == m_config.name) break;
      if (h.version > m_store.watermark(h.owner)) {
        const bool fresh = true;
        m_store.note_head(h.owner, h.version);
        if (fresh) broadcast("h:" + h.owner, h);
      }
      break;
    }
    case MessageType::state_digest: {
      const auto& d = std::get<StateDigest>(msg);
      const std::size_t budget = datagram_budget();
      std::vector<Bytes> framed;
      for (auto& delta : m_store.deltas_for(d.entries, budget, m_config.state_sync_budget)) framed.push_back(encode_message(delta));
      if ((d.flags & k_digest_request) != 0) {
        auto behind = m_store.behind(d.entries);
        const std::size_t max_entries = (budget - 16) / k_digest_entry_size;
        if (behind.size() > max_entries) behind.resize(max_entries);
        if (!behind.empty()) framed.push_back(encode_message(StateDigest{0, std::move(behind)}));
      }
      if (!framed.empty()) send(from, std::move(framed), Channel::datagram, false);
      break;
    }
    case MessageType::push_pull: handle_push_pull(sender, std::get<PushPull>(msg), now); break;
  }
}

void GossipNode::handle_ping(const Address& from, const std::string& sender, const Ping& p, TimePoint now) {
  (void)now;
  if (p.target != m_config.name) {
    ++m_counters.drops[static_cast<std::size_t>(DropReason::misdirected)];
    return;
  }
  if (p.state_summary != m_store.summary()) m_sync_candidate = sender;
  send_one(from, Ack{p.seq, m_store.summary()});
}

void GossipNode::handle_ack(const std::string& sender, const Ack& a, TimePoint now) {
  if (a.state_summary != 0 && a.state_summary != m_store.summary()) m_sync_candidate = sender;
  if (m_probe && m_probe->seq == a.seq) {
    if (sender == m_probe->target) m_rtt.sample(sender, now - m_probe->sent);
    m_awareness.apply_delta(-1);
    m_probe.reset();
    return;
  }
  auto it = m_relays.find(a.seq);
  if (it != m_relays.end()) {
    send_one(it->second.origin, Ack{it->second.origin_seq, 0});
    m_relays.erase(it);
  }
}

void GossipNode::refute(std::uint32_t accused_incarnation) {
  m_incarnation = std::max(m_incarnation, accused_incarnation) + 1;
  if (Member* self = find(m_config.name)) self->incarnation = m_incarnation;
  broadcast(m_config.name, Alive{m_incarnation, m_config.name, m_config.address});
  m_awareness.apply_delta(1);
  ++m_counters.refutes;
}

void GossipNode::handle_alive(const Alive& a, TimePoint now) {
  m_suspicion_deadline.reset();
  if (a.node.empty()) return;
  if (a.node == m_config.name) {
    if (!m_leaving && a.incarnation >= m_incarnation && a.address != m_config.address) refute(a.incarnation);
    else if (!m_leaving && a.incarnation > m_incarnation) refute(a.incarnation);
    return;
  }
  Member* m = find(a.node);
  if (m == nullptr) {
    if (table_full()) return refuse_member(a.node, now);
    add_member(a.node, a.address, a.incarnation, now);
    broadcast(a.node, a);
    return;
  }
  if (a.incarnation <= m->incarnation) return;
  const MemberState prev = m->state;
  m->incarnation = a.incarnation;
  m->address = a.address;
  m->state = MemberState::alive;
  m->suspicion.reset();
  m_suspects.erase(a.node);
  if (prev != MemberState::alive) {
    m->state_change = now;
    m_store.set_active(a.node, true);
    emit(EventKind::member_update, a.node, now);
  }
  broadcast(a.node, a);
}

// An accusation against this node with an incarnation older than ours: we refuted it, but
// the accuser has not heard the refutation (on a lossy link all its transmissions can be
// lost while the accuser keeps telling us, buddy-style, that we are suspect). Queue our
// current Alive again, with no new incarnation, so that it is retransmitted as long as
// stale accusations keep arriving; the queue holds one Alive per node, so this never grows.
void GossipNode::repeat_refutation() {
  if (m_leaving) return;
  broadcast(m_config.name, Alive{m_incarnation, m_config.name, m_config.address});
  ++m_counters.refutes_repeated;
}

void GossipNode::handle_suspect(const Suspect& s, TimePoint now) {
  m_suspicion_deadline.reset();
  Member* m = find(s.node);
  if (m != nullptr && s.node == m_config.name && s.incarnation < m->incarnation) return repeat_refutation();
  if (m == nullptr || s.incarnation < m->incarnation) return;
  if (m->state == MemberState::suspect && s.node != m_config.name) {
    if (m->suspicion && m->suspicion->confirm(s.from)) broadcast(s.node, s);
    return;
  }
  if (m->state == MemberState::dead || m->state == MemberState::left) return;
  if (s.node == m_config.name) {
    if (!m_leaving) refute(s.incarnation);
    return;
  }
  const std::size_t n = alive_count();
  int k = m_config.suspicion_mult - 2;
  if (static_cast<int>(n) - 2 < k) k = 0;
  const Duration min = Suspicion::min_timeout(m_config.suspicion_mult, n, m_config.probe_interval);
  const Duration max = min * m_config.suspicion_max_timeout_mult;
  m->incarnation = s.incarnation;
  m->state = MemberState::suspect;
  m->state_change = now;
  m->suspicion.emplace(s.from, k, min, max, now);
  m_suspects.insert(s.node);
  emit(EventKind::member_suspect, s.node, now);
  broadcast(s.node, s);
}

void GossipNode::handle_dead(const Dead& d, TimePoint now) {
  m_suspicion_deadline.reset();
  Member* m = find(d.node);
  if (m != nullptr && d.node == m_config.name && d.incarnation < m->incarnation) return repeat_refutation();
  if (m == nullptr || d.incarnation < m->incarnation) return;
  if (m->state == MemberState::dead || m->state == MemberState::left) return;
  if (d.node == m_config.name) {
    if (!m_leaving) refute(d.incarnation);
    return;
  }
  // Another node's verdict against a member we still believe alive, or have only just
  // begun to suspect, is taken as a suspicion (a confirmation), which gives the member the
  // chance to refute. After a crash everyone has suspected the member for most of the
  // minimum suspicion timeout before the first verdict arrives, so this costs nothing
  // there; after a partition heals it stops the other side's stale verdicts from killing
  // members of ours.
  if (d.from != d.node && d.from != m_config.name) {
    const bool fresh = m->state == MemberState::alive ||
                       (m->suspicion && now - m->suspicion->start() < m->suspicion->min() / 4);
    if (fresh) {
      if (m->state == MemberState::alive) handle_suspect(Suspect{d.incarnation, d.node, d.from}, now);
      else if (m->suspicion->confirm(d.from)) broadcast(d.node, Suspect{d.incarnation, d.node, d.from});
      return;
    }
  }
  m->incarnation = d.incarnation;
  m->state = d.from == d.node ? MemberState::left : MemberState::dead;
  m->state_change = now;
  m->suspicion.reset();
  m_suspects.erase(d.node);
  m_store.set_active(d.node, false);
  emit(m->state == MemberState::left ? EventKind::member_left : EventKind::member_dead, d.node, now);
  broadcast(d.node, d);
}

void GossipNode::handle_delta(const StateDelta& d, bool rebroadcast, TimePoint now) {
  const Member* m = find(d.owner);
  if (m == nullptr || !live(m->state)) {
    ++m_counters.drops[static_cast<std::size_t>(DropReason::not_member)];
    return;
  }
  std::vector<StateStore::Change> changed;
  const std::size_t stored = m_store.apply(d, changed);
  for (const auto& c : changed) emit(EventKind::state_change, c.owner, now, c.key, c.version);
  // Small updates spread epidemically: whoever learns one passes it on.
  if (rebroadcast && stored > 0 && d.entries.size() == 1 && d.entries.front().bytes.size() <= m_config.state_broadcast_max)
    broadcast("s:" + d.owner + ":" + d.entries.front().key, d);
}

void GossipNode::handle_push_pull(const std::string& sender, PushPull& p, TimePoint now) {
  for (const auto& pm : p.members) {
    switch (pm.state) {
      case MemberState::alive: handle_alive(Alive{pm.incarnation, pm.name, pm.address}, now); break;
      case MemberState::left: handle_dead(Dead{pm.incarnation, pm.name, pm.name}, now); break;
      case MemberState::dead:
      case MemberState::suspect:
        // A remote "dead" is only a suspicion here (memberlist does the same). Unknown
        // members are learned alive first so that the suspicion can be refuted.
        if (find(pm.name) == nullptr) handle_alive(Alive{pm.incarnation, pm.name, pm.address}, now);
        handle_suspect(Suspect{pm.incarnation, pm.name, sender}, now);
        break;
    }
  }
  for (const auto& d : p.deltas) handle_delta(d, false, now);
  const std::vector<StateDelta> deltas =
      m_store.deltas_for(p.digest, k_stream_message_budget, m_config.stream_max / 2);
  if ((p.flags & k_push_pull_reply) == 0) {
    PushPull reply;
    reply.flags = k_push_pull_reply;
    reply.reply_to = m_config.address;
    for (const auto& m : m_nodes) reply.members.push_back({m.name, m.address, m.incarnation, m.state});
    reply.digest = m_store.digest_all();
    reply.deltas = deltas;
    send(p.reply_to, {encode_message(reply)}, Channel::stream, false);
  } else if (!deltas.empty()) {
    const Member* peer = find(sender);
    const Address to = peer != nullptr ? peer->address : p.reply_to;
    std::vector<Bytes> framed;
    for (const auto& d : deltas) framed.push_back(encode_message(d));
    send(to, std::move(framed), Channel::stream, false);
  }
}

// ------------------------------------------------------------------ timers

std::vector<Outgoing> GossipNode::join(const std::vector<Address>& seeds, TimePoint now) {
  (void)now;
  for (const auto& s : seeds)
    if (s != m_config.address) push_pull(s, k_push_pull_join);
  return take(m_out);
}

std::vector<Outgoing> GossipNode::leave(TimePoint now) {
  if (!m_leaving) {
    m_leaving = true;
    if (Member* self = find(m_config.name)) {
      self->state = MemberState::left;
      self->state_change = now;
    }
    broadcast(m_config.name, Dead{m_incarnation, m_config.name, m_config.name});
    gossip(now);
  }
  return take(m_out);
}

void GossipNode::push_pull(const Address& to, std::uint8_t flags) {
  PushPull p;
  p.flags = flags;
  p.reply_to = m_config.address;
  for (const auto& m : m_nodes) p.members.push_back({m.name, m.address, m.incarnation, m.state});
  p.digest = m_store.digest_all();
  send(to, {encode_message(p)}, Channel::stream, false);
}

Duration GossipNode::push_pull_interval() const {
  // Serf's pushPullScale: beyond 32 nodes the interval grows with log2(n / 32).
  const double n = static_cast<double>(alive_count());
  if (n <= 32) return m_config.push_pull_interval;
  const int mult = static_cast<int>(std::ceil(std::log2(n) - std::log2(32.0))) + 1;
  return m_config.push_pull_interval * mult;
}

void GossipNode::start_probe(TimePoint now) {
  const std::size_t n = m_nodes.size();
  for (std::size_t tries = 0; tries < n; ++tries) {
    if (m_probe_index >= n) {
      m_probe_index = 0;
      std::shuffle(m_nodes.begin(), m_nodes.end(), m_rng);
      for (std::size_t i = 0; i < n; ++i) m_index[m_nodes[i].name] = i;
    }
    const Member& m = m_nodes[m_probe_index++];
    if (m.name == m_config.name || !live(m.state)) continue;
    Probe p;
    p.seq = ++m_seq;
    p.target = m.name;
    p.sent = now;
    p.timeout_at = now + m_awareness.scale(m_config.probe_timeout);
    p.deadline = now + m_awareness.scale(m_config.probe_interval);
    ++m_counters.probes;
    std::vector<Bytes> framed{encode_message(Ping{p.seq, m.name, m_store.summary()})};
    // A suspect is told so with the ping, to give it the chance to refute at once.
    if (m.state == MemberState::suspect) framed.push_back(encode_message(Suspect{m.incarnation, m.name, m_config.name}));
    const Address to = m.address;
    m_probe = std::move(p);
    send(to, std::move(framed), Channel::datagram, true);
    return;
  }
}

void GossipNode::probe_timed_out(TimePoint now) {
  (void)now;
  Probe& p = *m_probe;
  p.indirect_sent = true;
  const Member* target = find(p.target);
  if (target == nullptr) return;
  const IndirectPing ip{p.seq, target->name, target->address};
  const std::string target_name = p.target;
  auto relays = random_members(m_config.indirect_checks, [&](const Member& m) {
    return m.state == MemberState::alive && m.name != target_name;
  });
  p.expected_nacks = static_cast<int>(relays.size());
  std::vector<Address> addrs;
  for (const Member* r : relays) addrs.push_back(r->address);
  for (const auto& a : addrs) send_one(a, ip);
}

void GossipNode::probe_failed(TimePoint now) {
  const Probe p = *m_probe;
  m_probe.reset();
  int delta = 0;
  if (p.expected_nacks > 0) {
    if (p.nacks < p.expected_nacks) delta += p.expected_nacks - p.nacks;
  } else {
    delta += 1;
  }
  m_awareness.apply_delta(delta);
  ++m_counters.probe_failures;
  const Member* m = find(p.target);
  if (m == nullptr || !live(m->state)) return;
  handle_suspect(Suspect{m->incarnation, m->name, m_config.name}, now);
}

void GossipNode::gossip(TimePoint now) {
  m_last_gossip = now;
  auto targets = next_gossip_targets(m_config.gossip_nodes, [&](const Member& m) {
    if (live(m.state)) return true;
    return m.state == MemberState::dead && now - m.state_change < m_config.gossip_to_the_dead;
  });
  // Buddy system (Lifeguard): a member we suspect or think dead is told so with the
  // gossip, which lets it refute at once; this is also what heals partitions.
  std::vector<std::pair<Address, std::optional<Message>>> sends;
  for (const Member* t : targets) {
    std::optional<Message> notice;
    if (t->state == MemberState::dead) notice = Dead{t->incarnation, t->name, m_config.name};
    if (t->state == MemberState::suspect) notice = Suspect{t->incarnation, t->name, m_config.name};
    sends.emplace_back(t->address, std::move(notice));
  }
  for (auto& [addr, notice] : sends) {
    std::vector<Bytes> framed;
    if (notice) framed.push_back(encode_message(*notice));
    if (framed.empty() && m_broadcasts.size() == 0) continue;
    send(addr, std::move(framed), Channel::datagram, true);
  }
}

void GossipNode::sync_state(TimePoint now) {
  (void)now;
  std::optional<Address> peer;
  if (m_sync_candidate) {
    const Member* m = find(*m_sync_candidate);
    if (m != nullptr && live(m->state) && m->name != m_config.name) peer = m->address;
    m_sync_candidate.reset();
  }
  if (!peer && m_store.wants_anything()) {
    auto r = random_members(1, [](const Member& m) { return m.state == MemberState::alive; });
    if (!r.empty()) peer = r.front()->address;
  }
  if (!peer) return;
  const std::size_t max_entries = (datagram_budget() - 16) / k_digest_entry_size;
  StateDigest d{k_digest_request, m_store.digest_page(max_entries)};
  ++m_counters.state_syncs;
  send(*peer, {encode_message(d)}, Channel::datagram, false);
}

void GossipNode::reap(TimePoint now) {
  for (std::size_t i = 0; i < m_nodes.size();) {
    Member& m = m_nodes[i];
    const bool gone = (m.state == MemberState::dead || m.state == MemberState::left) && m.name != m_config.name &&
                      now - m.state_change >= m_config.gossip_to_the_dead;
    if (!gone) {
      ++i;
      continue;
    }
    const std::string name = m.name;
    m_store.remove_owner(name);
    m_rtt.erase(name);
    m_replay.erase(name);
    m_index.erase(name);
    if (i != m_nodes.size() - 1) {
      m_nodes[i] = std::move(m_nodes.back());
      m_index[m_nodes[i].name] = i;
    }
    m_nodes.pop_back();
    emit(EventKind::member_reaped, name, now);
  }
}

std::vector<Outgoing> GossipNode::on_tick(TimePoint now) {
  if (!m_leaving) {
    if (m_probe && !m_probe->indirect_sent && now >= m_probe->timeout_at) probe_timed_out(now);
    if (m_probe && now >= m_probe->deadline) probe_failed(now);
    if (!m_probe && now >= m_next_probe) {
      m_next_probe = now + m_awareness.scale(m_config.probe_interval);
      start_probe(now);
    }
  }
  for (auto it = m_relays.begin(); it != m_relays.end();) {
    if (!it->second.nack_sent && now >= it->second.nack_at) {
      it->second.nack_sent = true;
      send_one(it->second.origin, Nack{it->second.origin_seq});
    }
    if (now >= it->second.expire) it = m_relays.erase(it);
    else ++it;
  }
  m_suspicion_deadline.reset();
  for (auto it = m_suspects.begin(); it != m_suspects.end();) {
    Member* m = find(*it);
    if (m == nullptr || m->state != MemberState::suspect || !m->suspicion) {
      it = m_suspects.erase(it);
      continue;
    }
    if (now >= m->suspicion->deadline()) {
      const Dead d{m->incarnation, m->name, m_config.name};
      ++it;
      handle_dead(d, now);
      continue;
    }
    ++it;
  }
  if (now >= m_next_gossip) {
    m_next_gossip = now + m_config.gossip_interval;
    gossip(now);
  }
  if (!m_leaving && now >= m_next_sync) {
    m_next_sync = now + m_config.state_sync_interval;
    sync_state(now);
  }
  if (!m_leaving && now >= m_next_push_pull) {
    m_next_push_pull = now + push_pull_interval();
    auto r = random_members(1, [](const Member& m) { return m.state == MemberState::alive; });
    if (!r.empty()) push_pull(r.front()->address, 0);
  }
  if (now >= m_next_reap) {
    m_next_reap = now + std::chrono::seconds(1);
    reap(now);
  }
  return take(m_out);
}

TimePoint GossipNode::next_deadline() const {
  TimePoint t = std::min({m_next_gossip, m_next_reap});
  if (!m_leaving) {
    t = std::min({t, m_next_sync, m_next_push_pull});
    if (m_probe) t = std::min(t, m_probe->indirect_sent ? m_probe->deadline : m_probe->timeout_at);
    else t = std::min(t, m_next_probe);
  }
  for (const auto& [seq, r] : m_relays) t = std::min(t, r.nack_sent ? r.expire : r.nack_at);
  if (!m_suspicion_deadline) {
    TimePoint s = TimePoint::max();
    for (const auto& name : m_suspects) {
      const Member* m = find(name);
      if (m != nullptr && m->suspicion) s = std::min(s, m->suspicion->deadline());
    }
    m_suspicion_deadline = s;
  }
  return std::min(t, *m_suspicion_deadline);
}

}  // namespace slimcache::agent::gossip
