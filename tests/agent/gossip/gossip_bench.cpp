// Gossip benchmarks (not tests): they print figures. Build Release:
//   cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/rel --target gossip_bench
//   build/rel/tests/agent/gossip/gossip_bench loopback [NODES]   real sockets on 127.0.0.1, LAN profile
//   build/rel/tests/agent/gossip/gossip_bench stats [NODES] [PERIOD_S]  simulated: DeepSeek-V3 statistics traffic
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "agent/gossip/gossip_agent.hpp"
#include "agent/gossip/sim_network.hpp"

using namespace slimcache::agent::gossip;
using namespace std::chrono_literals;

namespace {

double secs(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

int loopback(std::size_t n) {
  asio::io_context io;
  std::vector<std::unique_ptr<GossipAgent>> agents;
  Key key{};
  key.fill(42);
  for (std::size_t i = 0; i < n; ++i) {
    GossipConfig c = GossipConfig::lan("agent-" + std::to_string(i), "127.0.0.1:0");
    c.label = "bench";
    Keyring r;
    (void)r.install(key);
    agents.push_back(std::make_unique<GossipAgent>(io, c, std::move(r)));
    if (auto s = agents.back()->start(); !s) {
      std::fprintf(stderr, "start: %s\n", s.error().context.c_str());
      return 1;
    }
  }
  for (std::size_t i = 1; i < n; ++i) agents[i]->join({agents[0]->address()});
  auto run_until = [&](const std::function<bool()>& pred, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) io.run_for(5ms);
    return pred();
  };
  const auto t_join = std::chrono::steady_clock::now();
  const bool joined = run_until([&] {
    for (auto& a : agents)
      if (a->node().count(MemberState::alive) != n) return false;
    return true;
  }, 120s);
  std::printf("nodes %zu  join converged %s in %.2f s\n", n, joined ? "yes" : "NO", secs(std::chrono::steady_clock::now() - t_join));

  // Idle traffic: settle, then 60 s.
  io.run_for(20s);
  std::uint64_t b0 = 0;
  for (auto& a : agents) b0 += a->counters().bytes_sent;
  const auto t_idle = std::chrono::steady_clock::now();
  io.run_for(60s);
  std::uint64_t b1 = 0;
  for (auto& a : agents) b1 += a->counters().bytes_sent;
  std::printf("idle traffic %.0f bytes/node/s (sent, encrypted, UDP+TCP payloads)\n",
              static_cast<double>(b1 - b0) / static_cast<double>(n) / secs(std::chrono::steady_clock::now() - t_idle));

  // Update propagation, 5 times.
  for (int u = 0; u < 5; ++u) {
    const std::string key_name = "event-" + std::to_string(u);
    const Bytes value{'v', static_cast<std::uint8_t>('0' + u)};
    auto& src = agents[static_cast<std::size_t>(u) * 7 % n];
    const auto t0 = std::chrono::steady_clock::now();
    (void)src->set_state(key_name, value);
    const std::string owner = src->node().name();
    const bool all = run_until([&] {
      for (auto& a : agents)
        if (a->peer_state(owner, key_name) != value) return false;
      return true;
    }, 30s);
    std::printf("update %d reached every node: %s in %.3f s\n", u, all ? "yes" : "NO", secs(std::chrono::steady_clock::now() - t0));
    io.run_for(2s);
  }

  // Kill one agent: time until every survivor declares it dead.
  const std::size_t victim = n / 2;
  const std::string vname = agents[victim]->node().name();
  agents[victim]->stop();
  const auto t_kill = std::chrono::steady_clock::now();
  std::vector<double> detect(n, -1);
  std::size_t false_positives = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i == victim) continue;
    agents[i]->on_event([&, i](const Event& e) {
      if (e.kind != EventKind::member_dead) return;
      if (e.node == vname) {
        if (detect[i] < 0) detect[i] = secs(std::chrono::steady_clock::now() - t_kill);
      } else {
        ++false_positives;
      }
    });
  }
  const bool detected = run_until([&] {
    for (std::size_t i = 0; i < n; ++i)
      if (i != victim && detect[i] < 0) return false;
    return true;
  }, 90s);
  double mx = 0;
  for (double d : detect) mx = std::max(mx, d);
  std::printf("killed node declared dead by every survivor: %s, within %.2f s; false positives %zu\n",
              detected ? "yes" : "NO", mx, false_positives);
  for (auto& a : agents) a->stop();
  return 0;
}

int stats(std::size_t n, int period_s) {
  const auto period = std::chrono::seconds(period_s);
  // One client publishes its DeepSeek-V3 activation statistics (58 layers x 256 experts,
  // 16-bit decayed counts = 29,696 bytes) every 20 s; everything else is idle.
  SimNetwork net(SimOptions{7, 0.0, 1ms, 1ms});
  Key key{};
  key.fill(1);
  for (std::size_t i = 0; i < n; ++i) {
    GossipConfig c = GossipConfig::lan("n" + std::to_string(i), "10.1.0." + std::to_string(i) + ":7946");
    Keyring r;
    (void)r.install(key);
    net.add_node(std::move(c), std::move(r));
  }
  for (std::size_t i = 1; i < n; ++i) net.join(i, {"10.1.0.0:7946"});
  net.run_for(60s);
  std::mt19937_64 rng(7);
  Bytes stats(58 * 256 * 2);
  const std::uint64_t b0 = net.bytes_sent_total();
  const auto t0 = net.now();
  double worst = 0;
  std::uint64_t max_node_bytes = 0;
  std::vector<std::uint64_t> start_bytes(n);
  for (std::size_t i = 0; i < n; ++i) start_bytes[i] = net.node(i).counters().bytes_sent;
  const int publishes = 9;
  for (int p = 0; p < publishes; ++p) {
    for (auto& b : stats) b = static_cast<std::uint8_t>(rng());
    (void)net.node(1).set_state("activation/deepseek-v3", stats);
    const auto at = net.now();
    const auto version = net.node(1).state_version("n1", "activation/deepseek-v3");
    auto everywhere = [&] {
      for (std::size_t i = 0; i < n; ++i)
        if (net.node(i).state_version("n1", "activation/deepseek-v3") < version) return false;
      return true;
    };
    (void)net.run_until(everywhere, at + period, 50ms);
    worst = std::max(worst, std::chrono::duration<double>(net.now() - at).count());
    net.run_until(at + period);
  }
  const double span = std::chrono::duration<double>(net.now() - t0).count();
  for (std::size_t i = 0; i < n; ++i) max_node_bytes = std::max(max_node_bytes, net.node(i).counters().bytes_sent - start_bytes[i]);
  std::printf("nodes %zu, statistics of 29696 bytes republished every %d s\n", n, period_s);
  std::printf("dissemination: every node has each version within %.2f s (worst staleness <= period + that = %.2f s)\n", worst, worst + period_s);
  std::printf("traffic: average %.0f bytes/node/s, busiest node %.0f bytes/s\n",
              static_cast<double>(net.bytes_sent_total() - b0) / static_cast<double>(n) / span,
              static_cast<double>(max_node_bytes) / span);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "stats";
  const std::size_t n = argc > 2 ? static_cast<std::size_t>(std::atoi(argv[2])) : 64;
  if (mode == "loopback") return loopback(n);
  if (mode == "stats") return stats(n, argc > 3 ? std::atoi(argv[3]) : 18);
  std::fprintf(stderr, "usage: gossip_bench loopback|stats [NODES]\n");
  return 2;
}
