#pragma once
// Cluster keyring and packet sealing: AES-256-GCM (mbedTLS) with the cluster label as
// additional authenticated data.
//
// Sealed layout:   seal_version:u8=1 flags:u8=1 key_id:u32 nonce[12] ciphertext tag[16]
// Plain layout:    seal_version:u8=1 flags:u8=0 label_hash:u32 payload   (empty keyring only)
// key_id is the first 32 bits of xxHash32(key); AAD = the 6 header bytes + label.
//
// Rotation without downtime (as Serf): install the new key everywhere (packets are still
// sealed with the primary, but all installed keys open), `use` it everywhere, then remove
// the old one. The primary key cannot be removed. An empty keyring sends plaintext and
// accepts only plaintext of the same label; a non-empty one accepts only sealed packets.
//
// Nonces are 96 random bits supplied by the caller (from a per-node random source):
// safe for 2^32 packets per key. Threads: not thread-safe; one owner.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/gossip/types.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::gossip {

using Key = std::array<std::uint8_t, 32>;
using Nonce = std::array<std::uint8_t, 12>;
inline constexpr std::size_t k_seal_overhead = 6 + 12 + 16;
inline constexpr std::size_t k_plain_overhead = 6;

// base64 (Serf's key format) <-> key. Fails unless it decodes to exactly 32 bytes.
[[nodiscard]] Expected<Key, Error> key_from_base64(const std::string& text);
[[nodiscard]] std::string key_to_base64(const Key& key);
// The keys of keyring files (security.keyring_files), in order: one base64 key per line,
// blank lines and '#' comments skipped, spaces trimmed; the first is the primary. Fails on
// the first malformed line.
[[nodiscard]] Expected<std::vector<Key>, Error> keys_from_keyring_files(const std::vector<std::string>& contents);

class Keyring {
 public:
  Keyring();
  ~Keyring();
  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Adds a key that opens packets; the first key installed becomes the primary.
  Expected<void, Error> install(const Key& key);
  // Makes an installed key the primary (the one that seals). Fails if not installed.
  Expected<void, Error> use(const Key& key);
  // Removes a key. Fails for the primary or a key not installed.
  Expected<void, Error> remove(const Key& key);
  // Installed keys, primary first.
  [[nodiscard]] std::vector<Key> keys() const;
  [[nodiscard]] std::optional<Key> primary() const;
  [[nodiscard]] bool empty() const;
  [[nodiscard]] std::size_t overhead() const { return empty() ? k_plain_overhead : k_seal_overhead; }

  [[nodiscard]] Bytes seal(std::span<const std::uint8_t> plaintext, const std::string& label,
                           const Nonce& nonce) const;
  // The payload, or why the packet must be dropped (unknown_key, auth_failed, wrong_label,
  // decode_error for a malformed header).
  [[nodiscard]] Expected<Bytes, DropReason> open(std::span<const std::uint8_t> sealed,
                                                 const std::string& label) const;

 private:
  struct Slot;
  std::vector<std::unique_ptr<Slot>> m_slots;  // m_slots[0] is the primary
};

}  // namespace slimcache::agent::gossip
