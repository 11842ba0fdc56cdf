#pragma once
// A heap buffer of bytes whose start is aligned to k_payload_alignment (64) bytes.
//
// Expert payloads are encoded into it so that their matrices (at 64-byte offsets) start on
// cache lines. Move-only; owns its memory; zero-initialised. Not thread-safe for writes.
#include <cstddef>
#include <memory>
#include <span>

namespace slimcache::agent::exec {

inline constexpr std::size_t k_payload_alignment = 64;

class AlignedBytes {
 public:
  AlignedBytes() = default;
  // Allocates `size` zeroed bytes (std::bad_alloc on exhaustion, like std::vector).
  explicit AlignedBytes(std::size_t size);

  [[nodiscard]] std::size_t size() const { return m_size; }
  [[nodiscard]] std::byte* data() { return m_data.get(); }
  [[nodiscard]] const std::byte* data() const { return m_data.get(); }
  [[nodiscard]] std::span<std::byte> bytes() { return {m_data.get(), m_size}; }
  [[nodiscard]] std::span<const std::byte> bytes() const { return {m_data.get(), m_size}; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte[], Free> m_data;
  std::size_t m_size = 0;
};

}  // namespace slimcache::agent::exec
