#include "agent/gossip/sim_scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <map>
#include <random>

#include "agent/gossip/sim_network.hpp"

namespace slimcache::agent::gossip {

namespace {
double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

GossipConfig profile(const std::string& name, const std::string& node, const Address& addr) {
  if (name == "wan") return GossipConfig::wan(node, addr);
  if (name == "local") return GossipConfig::local(node, addr);
  return GossipConfig::lan(node, addr);
}
}  // namespace

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.count = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

ScenarioResult run_standard_scenario(const ScenarioOptions& o) {
  using namespace std::chrono_literals;
  ScenarioResult r;
  r.nodes = o.nodes;
  r.loss = o.loss;
  r.seed = o.seed;
  auto note = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  SimNetwork net(SimOptions{o.seed, o.loss, o.delay, o.jitter});
  std::mt19937_64 rng(o.seed ^ 0x5ce7a110ull);
  const std::size_t n = std::max<std::size_t>(o.nodes, 4);
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(rng());
  Duration gossip_interval{};
  for (std::size_t i = 0; i < n; ++i) {
    GossipConfig c = profile(o.profile, "node-" + std::to_string(i), "10.0." + std::to_string(i / 250) + "." +
                                                                       std::to_string(i % 250 + 1) + ":7946");
    c.label = "sim";
    gossip_interval = c.gossip_interval;
    Keyring ring;
    if (o.encrypt) (void)ring.install(key);
    net.add_node(std::move(c), std::move(ring));
  }
  r.gossip_interval_s = seconds(gossip_interval);

  // Observations, fed by the event hook.
  std::vector<bool> crashed(n, false);
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) index[net.node(i).name()] = i;
  struct Update {
    std::size_t owner;
    std::string key;
    TimePoint at;
    std::size_t have = 0;
    TimePoint all{};
  };
  std::vector<Update> updates;
  std::size_t victim = n, stalled = n;
  TimePoint crash_at{};
  std::vector<double> detect(n, -1.0);
  std::vector<int> sides;
  net.set_event_hook([&](std::size_t obs, const Event& e) {
    if (e.kind == EventKind::state_change) {
      for (auto& u : updates) {
        if (u.key == e.key && net.node(u.owner).name() == e.node) {
          if (++u.have == n - 1 - static_cast<std::size_t>(std::count(crashed.begin(), crashed.end(), true))) u.all = e.at;
        }
      }
      return;
    }
    if (const char* who = std::getenv("SLIM_GOSSIP_TRACE"); who != nullptr && e.node == who)
      std::fprintf(stderr, "%.3f node-%zu: %s %s\n", seconds(e.at - TimePoint{}), obs, to_string(e.kind), e.node.c_str());
    if (e.kind != EventKind::member_dead) return;
    auto it = index.find(e.node);
    if (it == index.end()) return;
    const std::size_t subj = it->second;
    if (subj == victim) {
      if (detect[obs] < 0) detect[obs] = seconds(e.at - crash_at);
      return;
    }
    if (crashed[subj]) return;
    const bool across = !sides.empty() && sides[obs] != sides[subj];
    if (across) return;  // expected while partitioned and until the heal has spread
    if (!sides.empty()) {
      ++r.heal_flaps;
      return;
    }
    ++r.false_positives;
    if (std::getenv("SLIM_GOSSIP_DEBUG") != nullptr)
      std::fprintf(stderr, "false positive at %.3f s: node-%zu declared %s dead (phase %s)\n", seconds(e.at - TimePoint{}), obs,
                   e.node.c_str(), sides.empty() ? "before partition" : "partition");
    if (subj == stalled) ++r.stall_declared_dead;
  });

  // 1. joins
  note("joining " + std::to_string(n) + " nodes");
  const Duration spread = std::min<Duration>(5s, std::chrono::milliseconds(10) * static_cast<int>(n));
  for (std::size_t i = 1; i < n; ++i) {
    net.run_until(TimePoint{} + spread * static_cast<int>(i) / static_cast<int>(n));
    const std::size_t seed = i < 4 ? 0 : rng() % i;
    net.join(i, {net.node(seed).config().address});
  }
  const TimePoint joined = net.now();
  // Every survivor sees every survivor alive, and the crashed node not alive.
  auto all_see_all = [&]() {
    const std::size_t survivors = n - static_cast<std::size_t>(std::count(crashed.begin(), crashed.end(), true));
    for (std::size_t i = 0; i < n; ++i) {
      if (crashed[i]) continue;
      GossipNode& node = net.node(i);
      std::size_t alive = node.count(MemberState::alive);
      if (victim < n) {
        auto v = node.member(net.node(victim).name());
        if (v && v->state != MemberState::dead && v->state != MemberState::left) return false;
      }
      if (alive != survivors) return false;
    }
    return true;
  };
  r.join_converged = net.run_until(all_see_all, joined + 120s, 100ms);
  r.join_converge_s = seconds(net.now() - joined);

  // 2. idle traffic
  note("idle window");
  net.run_for(o.settle);
  const std::uint64_t idle_b0 = net.bytes_sent_total();
  const TimePoint idle_t0 = net.now();
  net.run_for(o.idle_window);
  r.bytes_per_node_per_s = static_cast<double>(net.bytes_sent_total() - idle_b0) / static_cast<double>(n) /
                           seconds(net.now() - idle_t0);

  // 3. state updates
  note("state updates");
  for (int u = 0; u < o.updates; ++u) {
    const std::size_t owner = rng() % n;
    Update up{owner, "update-" + std::to_string(u), net.now()};
    updates.push_back(up);
    const std::string value = "budget=" + std::to_string(u);
    (void)net.node(owner).set_state(updates.back().key, std::span<const std::uint8_t>(
                                                            reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
    net.run_for(o.update_spacing);
  }
  net.run_for(10s);
  std::vector<double> rounds, secs;
  for (const auto& u : updates) {
    if (u.all == TimePoint{}) {
      ++r.updates_incomplete;
      continue;
    }
    secs.push_back(seconds(u.all - u.at));
    rounds.push_back(seconds(u.all - u.at) / r.gossip_interval_s);
  }
  r.converge_rounds = percentiles(rounds);
  r.converge_s = percentiles(secs);

  // 4. crash + 5. stall (overlapping, so the stall happens while the cluster is busy)
  note("crash and stall");
  victim = 1 + rng() % (n - 1);
  do stalled = 1 + rng() % (n - 1);
  while (stalled == victim);
  crash_at = net.now();
  crashed[victim] = true;
  net.crash(victim);
  net.run_for(2s);
  net.stall(stalled, o.stall);
  auto all_detected = [&]() {
    for (std::size_t i = 0; i < n; ++i)
      if (!crashed[i] && detect[i] < 0) return false;
    return true;
  };
  r.crash_detected_everywhere = net.run_until(all_detected, crash_at + 120s, 100ms);
  net.run_for(30s);  // long enough for any wrongful suspicion of the stalled node to expire
  std::vector<double> det;
  for (std::size_t i = 0; i < n; ++i)
    if (!crashed[i] && detect[i] >= 0) det.push_back(detect[i]);
  r.detect_s = percentiles(det);

  // 6. partition and heal
  note("partition");
  sides.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) sides[i] = static_cast<int>(rng() % 2);
  net.partition(sides);
  net.run_for(o.partition);
  net.heal();
  const TimePoint healed_at = net.now();
  note("heal");
  r.healed = net.run_until(all_see_all, healed_at + 120s, 100ms);
  r.heal_s = seconds(net.now() - healed_at);
  net.run_for(10s);

  r.simulated_s = seconds(net.now() - TimePoint{});
  r.bytes_per_node_per_s_total = static_cast<double>(net.bytes_sent_total()) / static_cast<double>(n) / r.simulated_s;
  return r;
}

}  // namespace slimcache::agent::gossip
