#pragma once
// Timing profile and limits of one gossip node. The presets match HashiCorp memberlist's
// DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig so side-by-side benchmarks with
// Serf compare like with like.
#include <cstddef>
#include <string>

#include "agent/gossip/types.hpp"

namespace slimcache::agent::gossip {

struct GossipConfig {
  std::string name;        // unique node name
  Address address;         // where this node listens (datagram and stream)
  std::string label;       // cluster label: authenticated, keeps clusters on one network apart

  // SWIM
  Duration probe_interval = std::chrono::seconds(1);
  Duration probe_timeout = std::chrono::milliseconds(500);
  int indirect_checks = 3;
  // Lifeguard
  int awareness_max_multiplier = 8;
  int suspicion_mult = 4;               // min suspicion = mult * log10(n) * probe_interval
  int suspicion_max_timeout_mult = 6;   // max suspicion = this * min
  // Dissemination
  Duration gossip_interval = std::chrono::milliseconds(200);
  int gossip_nodes = 3;
  int retransmit_mult = 4;              // broadcasts are sent mult * ceil(log10(n + 1)) times
  Duration gossip_to_the_dead = std::chrono::seconds(30);  // also the reap grace period
  Duration push_pull_interval = std::chrono::seconds(30);  // scaled up above 32 nodes, as Serf
  // Node state (Scuttlebutt)
  Duration state_sync_interval = std::chrono::milliseconds(200);
  std::size_t state_chunk_size = 1024;        // large values travel in chunks of this size
  std::size_t state_sync_budget = 4 * 1400;   // delta bytes per digest exchange (datagrams)
  std::size_t state_broadcast_max = 512;      // values up to this size are also piggybacked
  // This process numbers its state writes above this. The daemon passes the wall clock in
  // microseconds, so a restarted node's values supersede its previous process's (a clock
  // set back across a restart delays them until the old versions are passed or reaped).
  std::uint64_t state_first_version = 0;
  // Limits
  std::size_t packet_size = 1400;             // datagram size, after encryption
  std::size_t stream_max = 16u << 20;         // largest push-pull frame
  std::size_t broadcast_queue_max = 4096;
  // Entries of the member table (self, alive, suspect, dead and left until reaped). A node
  // not yet known is refused while the table is full; known members are never affected.
  std::size_t max_members = 1024;

  [[nodiscard]] static GossipConfig lan(std::string name, Address address);
  [[nodiscard]] static GossipConfig wan(std::string name, Address address);
  [[nodiscard]] static GossipConfig local(std::string name, Address address);
};

}  // namespace slimcache::agent::gossip
