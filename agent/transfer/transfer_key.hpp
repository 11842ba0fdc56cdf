#pragma once
// The transfer PSK: derived from the cluster key so that one secret configures the cluster
// and the gossip and transfer keys stay independent.
//
//   psk      = HKDF-SHA256(salt = cluster label, ikm = cluster key, info = "slimcache transfer v1")
//   identity = "slimcache-transfer-v1:" + hex(first 4 bytes of
//              HKDF-SHA256(salt = cluster label, ikm = cluster key, info = "slimcache transfer v1 identity"))
// 32-byte PSK (RFC 5869). The identity names the key without revealing it (key rotation:
// peers can tell which key a client uses). Fails (k_invalid_argument) on a key under 16 bytes.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "agent/transfer/transfer_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::transfer {

inline constexpr std::string_view k_psk_info = "slimcache transfer v1";

struct TransferPsk {
  std::array<std::uint8_t, 32> key{};
  std::string identity;
};

// The same derivation for a purpose: info "slimcache <purpose> v1" (+ " identity"), identity
// "slimcache-<purpose>-v1:<hex>". derive_transfer_psk is purpose "transfer"; the expert
// execution service uses "exec", so the two keys are independent.
[[nodiscard]] Expected<TransferPsk, TransferError> derive_psk(std::span<const std::uint8_t> cluster_key,
                                                              std::string_view cluster_label, std::string_view purpose);
[[nodiscard]] Expected<TransferPsk, TransferError> derive_transfer_psk(std::span<const std::uint8_t> cluster_key,
                                                                       std::string_view cluster_label);

}  // namespace slimcache::agent::transfer
