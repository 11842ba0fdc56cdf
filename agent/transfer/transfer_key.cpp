#include "agent/transfer/transfer_key.hpp"

#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>

namespace slimcache::agent::transfer {
namespace {

bool hkdf(std::span<const std::uint8_t> ikm, std::string_view salt, std::string_view info, std::span<std::uint8_t> out) {
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  return md != nullptr &&
         mbedtls_hkdf(md, reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), ikm.data(), ikm.size(),
                      reinterpret_cast<const unsigned char*>(info.data()), info.size(), out.data(), out.size()) == 0;
}

}  // namespace

Expected<TransferPsk, TransferError> derive_psk(std::span<const std::uint8_t> cluster_key, std::string_view cluster_label,
                                                std::string_view purpose) {
  if (cluster_key.size() < 16) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument,
                                    "cluster key must be at least 16 bytes, got " + std::to_string(cluster_key.size())});
  }
  const std::string info = "slimcache " + std::string(purpose) + " v1";
  TransferPsk psk;
  std::array<std::uint8_t, 4> tag{};
  if (!hkdf(cluster_key, cluster_label, info, psk.key) || !hkdf(cluster_key, cluster_label, info + " identity", tag)) {
    return Unexpected(TransferError{TransferErrc::k_io, "HKDF-SHA256 failed"});
  }
  static constexpr char k_digits[] = "0123456789abcdef";
  psk.identity = "slimcache-" + std::string(purpose) + "-v1:";
  for (std::uint8_t b : tag) {
    psk.identity += k_digits[b >> 4];
    psk.identity += k_digits[b & 0xF];
  }
  return psk;
}

Expected<TransferPsk, TransferError> derive_transfer_psk(std::span<const std::uint8_t> cluster_key,
                                                         std::string_view cluster_label) {
  return derive_psk(cluster_key, cluster_label, "transfer");
}

}  // namespace slimcache::agent::transfer
