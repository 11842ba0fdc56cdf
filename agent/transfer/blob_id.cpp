#include "agent/transfer/blob_id.hpp"

#include <mbedtls/sha256.h>


namespace slimcache::agent::transfer {

const char* to_string(TransferErrc code) {
  switch (code) {
    case TransferErrc::k_invalid_argument: return "invalid_argument";
    case TransferErrc::k_io: return "io";
    case TransferErrc::k_connect: return "connect";
    case TransferErrc::k_timeout: return "timeout";
    case TransferErrc::k_handshake: return "handshake";
    case TransferErrc::k_disconnected: return "disconnected";
    case TransferErrc::k_protocol: return "protocol";
    case TransferErrc::k_too_large: return "too_large";
    case TransferErrc::k_not_found: return "not_found";
    case TransferErrc::k_verify_failed: return "verify_failed";
    case TransferErrc::k_busy: return "busy";
    case TransferErrc::k_cancelled: return "cancelled";
    case TransferErrc::k_unsupported_version: return "unsupported_version";
  }
  return "unknown";
}

std::string BlobId::hex() const {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = k_digits[bytes[i] >> 4];
    out[2 * i + 1] = k_digits[bytes[i] & 0xF];
  }
  return out;
}

Expected<BlobId, TransferError> BlobId::from_hex(std::string_view text) {
  if (text.size() != 64) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument,
                                    "blob id must be 64 hex digits, got " + std::to_string(text.size()) + " characters"});
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  BlobId id;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Unexpected(TransferError{TransferErrc::k_invalid_argument,
                                      "blob id has a non-hex character at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1)});
    }
    id.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return id;
}

BlobId BlobId::of(std::span<const std::byte> data) {
  Sha256Stream s;
  s.update(data);
  return s.digest();
}

Sha256Stream::Sha256Stream() {
  mbedtls_sha256_init(&m_ctx);
  (void)mbedtls_sha256_starts_ret(&m_ctx, 0);
}

Sha256Stream::~Sha256Stream() { mbedtls_sha256_free(&m_ctx); }

Sha256Stream::Sha256Stream(const Sha256Stream& other) {
  mbedtls_sha256_init(&m_ctx);
  mbedtls_sha256_clone(&m_ctx, &other.m_ctx);
}

Sha256Stream& Sha256Stream::operator=(const Sha256Stream& other) {
  if (this != &other) mbedtls_sha256_clone(&m_ctx, &other.m_ctx);
  return *this;
}

void Sha256Stream::update(std::span<const std::byte> data) {
  (void)mbedtls_sha256_update_ret(&m_ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

BlobId Sha256Stream::digest() const {
  // Finishing consumes the context: finish a copy.
  Sha256Stream copy(*this);
  BlobId id;
  (void)mbedtls_sha256_finish_ret(&copy.m_ctx, id.bytes.data());
  return id;
}

}  // namespace slimcache::agent::transfer
