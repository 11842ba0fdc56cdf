#include "agent/gossip/sim_network.hpp"

namespace slimcache::agent::gossip {

SimNetwork::SimNetwork(SimOptions options) : m_options(options), m_rng(options.seed) {}

std::size_t SimNetwork::add_node(GossipConfig config, Keyring keyring) {
  const std::size_t i = m_nodes.size();
  const Address addr = config.address;
  Slot s;
  s.node = std::make_unique<GossipNode>(std::move(config), std::move(keyring), m_rng(), 1, m_now);
  m_nodes.push_back(std::move(s));
  m_by_address[addr] = i;
  if (!m_group.empty()) m_group.push_back(0);
  after(i);
  return i;
}

void SimNetwork::push(Ev ev) {
  ev.order = m_order++;
  m_queue.push(std::move(ev));
}

void SimNetwork::schedule_tick(std::size_t i, TimePoint at) {
  Slot& s = m_nodes[i];
  if (at >= s.scheduled_tick) return;
  s.scheduled_tick = at;
  push(Ev{at, 0, i, true, Channel::datagram, {}, {}});
}

void SimNetwork::after(std::size_t i) {
  Slot& s = m_nodes[i];
  if (s.crashed) return;
  if (m_hook) {
    for (const auto& e : s.node->take_events()) m_hook(i, e);
  } else {
    (void)s.node->take_events();
  }
  TimePoint at = std::max(s.node->next_deadline(), m_now + std::chrono::microseconds(100));
  at = std::max(at, s.stalled_until);
  schedule_tick(i, at);
}

void SimNetwork::route(std::size_t from, std::vector<Outgoing> out) {
  for (auto& o : out) {
    if (on_send) on_send(from, o);
    auto it = m_by_address.find(o.to);
    if (it == m_by_address.end()) continue;
    const std::size_t to = it->second;
    if (!m_group.empty() && m_group[from] != m_group[to]) continue;
    Duration d = m_options.delay;
    if (o.channel == Channel::datagram) {
      if (m_options.loss > 0 && std::uniform_real_distribution<double>(0, 1)(m_rng) < m_options.loss) continue;
      if (m_options.jitter.count() > 0) d += Duration(static_cast<Duration::rep>(m_rng() % static_cast<std::uint64_t>(m_options.jitter.count())));
    } else {
      d *= 3;
    }
    push(Ev{m_now + d, 0, to, false, o.channel, m_nodes[from].node->config().address, std::move(o.bytes)});
  }
}

void SimNetwork::join(std::size_t node, const std::vector<Address>& seeds) {
  route(node, m_nodes[node].node->join(seeds, m_now));
  after(node);
}

void SimNetwork::leave(std::size_t node) {
  route(node, m_nodes[node].node->leave(m_now));
  after(node);
}

void SimNetwork::crash(std::size_t node) { m_nodes[node].crashed = true; }

void SimNetwork::stall(std::size_t node, Duration how_long) { m_nodes[node].stalled_until = m_now + how_long; }

void SimNetwork::partition(std::vector<int> group) {
  group.resize(m_nodes.size(), 0);
  m_group = std::move(group);
}

void SimNetwork::heal() { m_group.clear(); }

void SimNetwork::inject(std::size_t node, const Address& from, Bytes bytes, Channel channel) {
  push(Ev{m_now, 0, node, false, channel, from, std::move(bytes)});
}

void SimNetwork::run_until(TimePoint until) {
  while (!m_queue.empty() && m_queue.top().at <= until) {
    Ev ev = m_queue.top();
    m_queue.pop();
    m_now = std::max(m_now, ev.at);
    Slot& s = m_nodes[ev.node];
    if (s.crashed) continue;
    if (ev.tick) {
      if (ev.at != s.scheduled_tick) continue;  // superseded
      s.scheduled_tick = TimePoint::max();
    }
    if (m_now < s.stalled_until) {
      if (ev.tick) {
        schedule_tick(ev.node, s.stalled_until);
      } else {
        ev.at = s.stalled_until;
        push(std::move(ev));
      }
      continue;
    }
    std::vector<Outgoing> out = ev.tick ? s.node->on_tick(m_now) : s.node->on_packet(ev.from, ev.bytes, ev.channel, m_now);
    route(ev.node, std::move(out));
    after(ev.node);
  }
  m_now = std::max(m_now, until);
}

bool SimNetwork::run_until(const std::function<bool()>& pred, TimePoint limit, Duration step) {
  while (!pred()) {
    if (m_now >= limit) return false;
    run_until(std::min(limit, m_now + step));
  }
  return true;
}

std::uint64_t SimNetwork::bytes_sent_total() const {
  std::uint64_t total = 0;
  for (const auto& s : m_nodes) total += s.node->counters().bytes_sent;
  return total;
}

}  // namespace slimcache::agent::gossip
