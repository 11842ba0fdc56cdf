#pragma once
// The transfer wire protocol, inside TLS. Pure encode/decode: no I/O, no state.
//
// All integers little-endian. Version 1. Message types are append-only.
//
// Request (client -> server), fixed 48 bytes:
//   0 "SLXF"   4 u16 version (1)   6 u8 type (1 = GET)   7 u8 reserved (0)
//   8 blob id (32 bytes: the SHA-256 of the whole blob)   40 u64 offset to start from
// Response (server -> client): frames, each an 8-byte header then `length` body bytes:
//   0 u8 type   1..3 reserved (0)   4 u32 length
//   type 1 BLOB   body 24 bytes: u16 version, u16 reserved, u64 total size, u64 offset
//                 (echo of the request), u32 chunk size the server will use
//   type 2 CHUNK  body = the next `length` bytes of the blob (1 <= length <= max chunk)
//   type 3 END    body empty: every byte from offset to total size was sent
//   type 4 ERROR  body: u16 code (TransferErrc), then a UTF-8 message (<= 256 bytes)
// A GET is answered by BLOB, CHUNK*, END, or by a single ERROR; then the server closes.
//
// Decoders reject absurd claims before anything is allocated: a blob over max_blob_size,
// a chunk over max_chunk_size, an offset past the end, unknown types, wrong lengths.
// Complexity: O(1) per header. Threads: pure functions.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent/transfer/blob_id.hpp"
#include "agent/transfer/transfer_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::transfer {

inline constexpr std::uint16_t k_protocol_version = 1;
inline constexpr std::size_t k_request_size = 48;
inline constexpr std::size_t k_frame_header_size = 8;
inline constexpr std::size_t k_blob_body_size = 24;
inline constexpr std::size_t k_max_error_message = 256;
inline constexpr std::uint32_t k_default_chunk_size = 1u << 20;        // 1 MiB
inline constexpr std::uint32_t k_max_chunk_size_limit = 16u << 20;     // never above 16 MiB
inline constexpr std::uint64_t k_default_max_blob_size = 64ull << 30;  // 64 GiB

struct Limits {
  std::uint32_t max_chunk_size = k_default_chunk_size;
  std::uint64_t max_blob_size = k_default_max_blob_size;
};

enum class FrameType : std::uint8_t { k_blob = 1, k_chunk = 2, k_end = 3, k_error = 4 };

struct GetRequest {
  std::uint16_t version = k_protocol_version;
  BlobId id;
  std::uint64_t offset = 0;
};

struct FrameHeader {
  FrameType type = FrameType::k_end;
  std::uint32_t length = 0;
};

struct BlobHeader {
  std::uint64_t total_size = 0;
  std::uint64_t offset = 0;
  std::uint32_t chunk_size = 0;
};

struct ErrorBody {
  TransferErrc code = TransferErrc::k_protocol;
  std::string message;
};

[[nodiscard]] std::array<std::byte, k_request_size> encode_request(const GetRequest& request);
// Fails with k_protocol (bad magic, type, reserved byte) or k_unsupported_version; the
// version is still returned in the error message so the server can answer.
[[nodiscard]] Expected<GetRequest, TransferError> decode_request(std::span<const std::byte> bytes);

[[nodiscard]] std::array<std::byte, k_frame_header_size> encode_frame_header(FrameType type, std::uint32_t length);
// Validates the type and the length against the limits for that type.
[[nodiscard]] Expected<FrameHeader, TransferError> decode_frame_header(std::span<const std::byte> bytes,
                                                                       const Limits& limits);

[[nodiscard]] std::vector<std::byte> encode_blob_frame(const BlobHeader& header);
[[nodiscard]] Expected<BlobHeader, TransferError> decode_blob_body(std::span<const std::byte> body,
                                                                   const Limits& limits);

[[nodiscard]] std::vector<std::byte> encode_error_frame(TransferErrc code, std::string message);
[[nodiscard]] Expected<ErrorBody, TransferError> decode_error_body(std::span<const std::byte> body);

}  // namespace slimcache::agent::transfer
