#pragma once
// A seeded, simulated network of GossipNodes in one process, on a manual timeline: packet
// loss, delay and jitter, partitions, crashes and stalls. Same seed, same run, on any
// machine with the same build. Time only moves inside run_until(); nothing sleeps.
//
// Datagrams are lost with probability `loss` and delayed by delay + U(0, jitter); stream
// frames are never lost (TCP) and take 3x the delay. Partitions drop both. A crashed node
// processes nothing again; a stalled node holds its packets and ticks until the stall
// ends (like a paused process whose socket buffers fill).
//
// Threads: not thread-safe. Ownership: owns the nodes.
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/gossip/gossip_node.hpp"

namespace slimcache::agent::gossip {

struct SimOptions {
  std::uint64_t seed = 1;
  double loss = 0.0;
  Duration delay = std::chrono::milliseconds(2);
  Duration jitter = std::chrono::milliseconds(1);
};

class SimNetwork {
 public:
  // Called for every event a node reports: (node index, event).
  using EventHook = std::function<void(std::size_t, const Event&)>;

  explicit SimNetwork(SimOptions options);

  // Adds a node (its address is config.address) with its own keyring; returns its index.
  std::size_t add_node(GossipConfig config, Keyring keyring);
  void join(std::size_t node, const std::vector<Address>& seeds);
  void leave(std::size_t node);
  void crash(std::size_t node);
  void stall(std::size_t node, Duration how_long);
  // group[i] is node i's side; packets between different sides are dropped. heal() ends it.
  void partition(std::vector<int> group);
  void heal();

  // Processes every packet and timer up to `until`, then sets the clock to it.
  void run_until(TimePoint until);
  void run_for(Duration d) { run_until(m_now + d); }
  // Runs in steps of `step` until pred() holds or `limit` passes; true if pred() held.
  bool run_until(const std::function<bool()>& pred, TimePoint limit, Duration step);

  [[nodiscard]] TimePoint now() const { return m_now; }
  [[nodiscard]] std::size_t size() const { return m_nodes.size(); }
  [[nodiscard]] GossipNode& node(std::size_t i) { return *m_nodes[i].node; }
  [[nodiscard]] bool crashed(std::size_t i) const { return m_nodes[i].crashed; }
  [[nodiscard]] int group(std::size_t i) const { return m_group.empty() ? 0 : m_group[i]; }
  [[nodiscard]] std::uint64_t bytes_sent_total() const;
  void set_event_hook(EventHook hook) { m_hook = std::move(hook); }
  // Injects raw bytes as if `from` had sent them (tests: replay, tampering).
  void inject(std::size_t node, const Address& from, Bytes bytes, Channel channel);
  // Every packet a node sends passes here first when set (tests: capture).
  std::function<void(std::size_t from, const Outgoing&)> on_send;

 private:
  struct Slot {
    std::unique_ptr<GossipNode> node;
    bool crashed = false;
    TimePoint stalled_until{};
    TimePoint scheduled_tick = TimePoint::max();
  };
  struct Ev {
    TimePoint at;
    std::uint64_t order;
    std::size_t node;
    bool tick;
    Channel channel;
    Address from;
    Bytes bytes;
  };
  struct Later {
    bool operator()(const Ev& a, const Ev& b) const { return a.at != b.at ? a.at > b.at : a.order > b.order; }
  };
  void route(std::size_t from, std::vector<Outgoing> out);
  void after(std::size_t i);
  void schedule_tick(std::size_t i, TimePoint at);
  void push(Ev ev);

  SimOptions m_options;
  std::mt19937_64 m_rng;
  TimePoint m_now{};
  std::uint64_t m_order = 0;
  std::vector<Slot> m_nodes;
  std::unordered_map<Address, std::size_t> m_by_address;
  std::vector<int> m_group;
  std::priority_queue<Ev, std::vector<Ev>, Later> m_queue;
  EventHook m_hook;
};

}  // namespace slimcache::agent::gossip
