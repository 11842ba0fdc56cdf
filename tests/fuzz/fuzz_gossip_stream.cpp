// Fuzz target: the gossip stream (push-pull) path as the Asio driver walks it: a u32
// big-endian frame length checked against stream_max, then the frame handed to a
// GossipNode on the stream channel, which opens it (empty keyring: plaintext with the
// cluster label's hash), decodes it and merges members, digests and state deltas.
// Seeds: corpus/gossip_stream (make_gossip_seeds.cpp). Invariants: no crash, no unbounded
// growth: the membership never holds more members than the input could describe, and the
// node keeps ticking afterwards.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "agent/gossip/gossip_node.hpp"

using namespace slimcache::agent::gossip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint32_t len = (std::uint32_t{data[0]} << 24) | (std::uint32_t{data[1]} << 16) |
                            (std::uint32_t{data[2]} << 8) | data[3];
  GossipConfig config = GossipConfig::lan("sut", "10.0.0.1:7946");
  config.label = "fuzz";
  config.stream_max = 1u << 20;
  if (len > config.stream_max || len > size - 4) return 0;  // the driver closes the connection
  const TimePoint t0{std::chrono::seconds(1000)};
  GossipNode sut(config, Keyring{}, 1, 1, t0);
  auto out = sut.on_packet("10.0.0.2:7946", std::span(data + 4, len), Channel::stream, t0);
  for (const auto& o : out)
    if (o.channel == Channel::datagram && o.bytes.size() > config.packet_size) std::abort();
  if (sut.members().size() > len + 1) std::abort();
  // The node keeps running on what it learned: a few probe rounds.
  TimePoint now = t0;
  for (int i = 0; i < 4; ++i) {
    now = std::max(now + std::chrono::milliseconds(1), sut.next_deadline());
    (void)sut.on_tick(now);
  }
  return 0;
}
