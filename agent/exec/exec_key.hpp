#pragma once
// The execution service's TLS PSK, derived from the cluster key like the transfer PSK
// (agent/transfer/transfer_key.hpp) but with its own HKDF info, so that the two keys are
// independent (a leaked execution key opens no transfer and vice versa):
//
//   psk      = HKDF-SHA256(salt = cluster label, ikm = cluster key, info = "slimcache exec v1")
//   identity = "slimcache-exec-v1:" + hex(first 4 bytes of
//              HKDF-SHA256(salt = cluster label, ikm = cluster key, info = "slimcache exec v1 identity"))
// Fails (k_invalid_argument) on a key under 16 bytes. Pure and thread-safe.
#include <cstdint>
#include <span>
#include <string_view>

#include "agent/exec/exec_error.hpp"
#include "agent/transfer/transfer_key.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::exec {

inline constexpr std::string_view k_exec_psk_info = "slimcache exec v1";

[[nodiscard]] Expected<transfer::TransferPsk, ExecError> derive_exec_psk(std::span<const std::uint8_t> cluster_key,
                                                                         std::string_view cluster_label);

}  // namespace slimcache::agent::exec
