#include "agent/transfer/blob_id.hpp"

#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif


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
    case TransferErrc::k_no_space: return "no_space";
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

namespace {

#if defined(__x86_64__)
constexpr std::uint32_t k_round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// The compression function with the x86 SHA extensions (Intel's SHA-NI layout: the state
// is kept as ABEF/CDGH, four rounds per 128-bit message group).
__attribute__((target("sha,sse4.1,ssse3"))) void blocks_shani(std::uint32_t* state, const unsigned char* data,
                                                              std::size_t count) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0xB1);
  __m128i state1 = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
  __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);
  state1 = _mm_blend_epi16(state1, tmp, 0xF0);
  for (std::size_t b = 0; b < count; ++b, data += 64) {
    const __m128i save0 = state0;
    const __m128i save1 = state1;
    __m128i w[16];
    for (int i = 0; i < 16; ++i) {
      if (i < 4) {
        w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)), byte_swap);
      } else {
        __m128i x = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
        x = _mm_add_epi32(x, _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
        w[i] = _mm_sha256msg2_epu32(x, w[i - 1]);
      }
      __m128i msg = _mm_add_epi32(w[i], _mm_loadu_si128(reinterpret_cast<const __m128i*>(k_round_constants + 4 * i)));
      state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
      msg = _mm_shuffle_epi32(msg, 0x0E);
      state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
    }
    state0 = _mm_add_epi32(state0, save0);
    state1 = _mm_add_epi32(state1, save1);
  }
  tmp = _mm_shuffle_epi32(state0, 0x1B);
  state1 = _mm_shuffle_epi32(state1, 0xB1);
  state0 = _mm_blend_epi16(tmp, state1, 0xF0);
  state1 = _mm_alignr_epi8(state1, tmp, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), state0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), state1);
}

bool detect_shani() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool sse = (ecx & (1u << 19)) != 0 && (ecx & (1u << 9)) != 0;  // SSE4.1, SSSE3
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return sse && (ebx & (1u << 29)) != 0;  // SHA
}
#else
bool detect_shani() { return false; }
#endif

const bool k_shani = detect_shani();

}  // namespace

bool Sha256Stream::accelerated() { return k_shani; }

Sha256Stream::Sha256Stream() {
  mbedtls_sha256_init(&m_ctx);
  (void)mbedtls_sha256_starts_ret(&m_ctx, 0);
}

Sha256Stream::~Sha256Stream() { mbedtls_sha256_free(&m_ctx); }

Sha256Stream::Sha256Stream(const Sha256Stream& other) : m_total(other.m_total) {
  mbedtls_sha256_init(&m_ctx);
  mbedtls_sha256_clone(&m_ctx, &other.m_ctx);
}

Sha256Stream& Sha256Stream::operator=(const Sha256Stream& other) {
  if (this != &other) {
    mbedtls_sha256_clone(&m_ctx, &other.m_ctx);
    m_total = other.m_total;
  }
  return *this;
}

void Sha256Stream::blocks(const unsigned char* data, std::size_t count) {
#if defined(__x86_64__)
  if (k_shani) return blocks_shani(m_ctx.state, data, count);
#endif
  for (std::size_t i = 0; i < count; ++i) (void)mbedtls_internal_sha256_process(&m_ctx, data + 64 * i);
}

void Sha256Stream::update(std::span<const std::byte> data) {
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t len = data.size();
  const auto used = static_cast<std::size_t>(m_total % 64);
  m_total += len;
  if (used != 0) {
    const std::size_t fill = std::min<std::size_t>(64 - used, len);
    std::memcpy(m_ctx.buffer + used, in, fill);
    in += fill;
    len -= fill;
    if (used + fill < 64) return;
    blocks(m_ctx.buffer, 1);
  }
  if (len >= 64) {
    blocks(in, len / 64);
    in += len / 64 * 64;
    len %= 64;
  }
  if (len > 0) std::memcpy(m_ctx.buffer, in, len);
}

BlobId Sha256Stream::digest() const {
  // Padding (FIPS 180-4 5.1.1) on a copy: the stream stays usable.
  Sha256Stream copy(*this);
  const std::uint64_t bits = m_total * 8;
  unsigned char pad[72] = {0x80};
  const auto used = static_cast<std::size_t>(m_total % 64);
  const std::size_t pad_len = (used < 56 ? 56 - used : 120 - used);
  for (int i = 0; i < 8; ++i) pad[pad_len + static_cast<std::size_t>(i)] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  copy.update(std::as_bytes(std::span(pad, pad_len + 8)));
  BlobId id;
  for (std::size_t i = 0; i < 8; ++i) {
    for (std::size_t j = 0; j < 4; ++j) id.bytes[4 * i + j] = static_cast<std::uint8_t>(copy.m_ctx.state[i] >> (24 - 8 * j));
  }
  return id;
}

}  // namespace slimcache::agent::transfer
