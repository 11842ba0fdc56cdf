#include "agent/exec/exec_key.hpp"

#include "agent/transfer/transfer_key.hpp"

namespace slimcache::agent::exec {

Expected<transfer::TransferPsk, ExecError> derive_exec_psk(std::span<const std::uint8_t> cluster_key,
                                                           std::string_view cluster_label) {
  auto psk = transfer::derive_psk(cluster_key, cluster_label, "exec");
  if (!psk) {
    const bool bad_key = psk.error().code == transfer::TransferErrc::k_invalid_argument;
    return Unexpected(ExecError{bad_key ? ExecErrc::k_invalid_argument : ExecErrc::k_io, psk.error().message});
  }
  return std::move(psk).value();
}

}  // namespace slimcache::agent::exec
