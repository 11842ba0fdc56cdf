#pragma once
// Blob identity: the SHA-256 of the blob's bytes, written as 64 lower-case hex digits.
//
// Sha256Stream hashes a blob incrementally (mbedTLS); it is copyable so a partial write can
// keep its running state. Threads: values, no shared state.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <mbedtls/sha256.h>

#include "agent/transfer/transfer_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::transfer {

struct BlobId {
  std::array<std::uint8_t, 32> bytes{};
  auto operator<=>(const BlobId&) const = default;
  [[nodiscard]] std::string hex() const;
  // Fails (k_invalid_argument) unless `text` is exactly 64 hex digits.
  [[nodiscard]] static Expected<BlobId, TransferError> from_hex(std::string_view text);
  [[nodiscard]] static BlobId of(std::span<const std::byte> data);
};

// SHA-256 (FIPS 180-4). On x86-64 CPUs with the SHA extensions the blocks are hashed with
// them (about 5x mbedTLS's portable code); elsewhere with mbedTLS. Both give the same digest.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream& other);
  Sha256Stream& operator=(const Sha256Stream& other);
  void update(std::span<const std::byte> data);
  // The digest of everything fed so far (the stream stays usable).
  [[nodiscard]] BlobId digest() const;
  // Whether the SHA-extension path is in use on this CPU.
  [[nodiscard]] static bool accelerated();

 private:
  void blocks(const unsigned char* data, std::size_t count);
  mbedtls_sha256_context m_ctx;  // its state and buffer are used directly (public in 2.28)
  std::uint64_t m_total = 0;
};

}  // namespace slimcache::agent::transfer
