// Fuzz target: the gossip datagram decoder (agent/gossip/wire.hpp decode_packet), on
// plaintext packets (what the keyring hands over after opening).
// Invariants: decoding never crashes or allocates without bound; whatever decodes
// re-encodes to bytes that decode again to the same encoding (a canonical form).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "agent/gossip/wire.hpp"

using namespace slimcache::agent::gossip;

namespace {
Bytes encode(const Packet& p) {
  Bytes out = encode_envelope(p.envelope);
  for (const auto& m : p.messages) {
    const Bytes f = encode_message(m);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t k_max = 64 * 1024;
  auto packet = decode_packet(std::span(data, size), k_max);
  if (!packet) return 0;
  if (packet->messages.size() > size) std::abort();  // every message costs at least a byte
  const Bytes once = encode(*packet);
  auto again = decode_packet(once, k_max + 1024);
  if (!again) std::abort();
  if (again->messages.size() != packet->messages.size() || again->unknown_messages != 0) std::abort();
  if (encode(*again) != once) std::abort();
  return 0;
}
