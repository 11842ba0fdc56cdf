// Fuzz target: opening sealed gossip packets (agent/gossip/keyring.hpp Keyring::open),
// with a two-key ring (primary + a key being rotated out).
// Invariants: open never crashes on any bytes; an input sealed by the ring opens to
// itself; one flipped bit anywhere in a sealed packet never opens (AES-GCM tag).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "agent/gossip/keyring.hpp"

using namespace slimcache::agent::gossip;

namespace {
Keyring make_ring() {
  Keyring ring;
  Key a{};
  Key b{};
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<std::uint8_t>(i);
    b[i] = static_cast<std::uint8_t>(0xa5 ^ i);
  }
  (void)ring.install(a);
  (void)ring.install(b);
  return ring;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Keyring ring = make_ring();
  static const std::string label = "fuzz";
  const std::span<const std::uint8_t> in(data, size);
  auto opened = ring.open(in, label);
  if (opened && opened->size() + k_seal_overhead != size) std::abort();

  // Seal the input itself, open it back, then flip one bit chosen by the input.
  Nonce nonce{};
  for (std::size_t i = 0; i < nonce.size() && i < size; ++i) nonce[i] = data[i];
  Bytes sealed = ring.seal(in, label, nonce);
  auto back = ring.open(sealed, label);
  if (!back || *back != Bytes(data, data + size)) std::abort();
  if (ring.open(sealed, label + "x")) std::abort();
  std::size_t where = 0;
  for (std::size_t i = 0; i < size && i < 4; ++i) where = where * 251 + data[i];
  const std::size_t bit = where % (sealed.size() * 8);
  sealed[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  if (ring.open(sealed, label)) std::abort();
  return 0;
}
