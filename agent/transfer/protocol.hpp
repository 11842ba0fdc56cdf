#pragma once
// The transfer wire protocol, inside TLS. Pure encode/decode: no I/O, no state.
//
// All integers little-endian. Versions 1, 2 and 3 (all decoded). Message types are append-only.
//
// Request (client -> server), version 1, fixed 48 bytes:
//   0 "SLXF"   4 u16 version (1)   6 u8 type (1 = GET)   7 u8 reserved (0)
//   8 blob id (32 bytes: the SHA-256 of the whole blob)   40 u64 offset to start from
// Version 2, fixed 64 bytes: the same 48 bytes (version 2), then
//   48 u64 length (GET: bytes to send from offset, 0 = to the end: a range for striping)
//   56 u32 layer   60 u32 expert (STAT_EXPERT; 0 for GET)
//   type 1 GET          as in version 1, limited to [offset, offset + length)
//   type 2 STAT_EXPERT  which blob holds expert (layer, expert): answered by INFO or ERROR
//                       (the blob id field must be zero)
// Version 3 (sessions), 64 bytes: exactly the version 2 layout and meaning, but the
//   connection outlives the request: after its answer (END, INFO or ERROR) the server
//   reads the next request on the same TLS connection, so one handshake serves many
//   requests. The client ends the session with close_notify; the server closes a session
//   idle for its idle timeout (a client retries a request that found its reused session
//   closed on a fresh connection). A version 1 or 2 request ends the connection as before.
// The server reads 48 bytes, then 16 more when the version is 2 or 3 (request_size()).
// Response (server -> client): frames, each an 8-byte header then `length` body bytes:
//   0 u8 type   1..3 reserved (0)   4 u32 length
//   type 1 BLOB   body 24 bytes: u16 version, u16 reserved, u64 total size, u64 offset
//                 (echo of the request), u32 chunk size the server will use
//   type 2 CHUNK  body = the next `length` bytes of the blob (1 <= length <= max chunk)
//   type 3 END    body empty: every byte from offset to total size was sent
//   type 4 ERROR  body: u16 code (TransferErrc), then a UTF-8 message (<= 256 bytes)
//   type 5 INFO   (version 2) body 48 bytes: u16 version, u16 reserved, u32 reserved,
//                 u64 total size, blob id (32 bytes)
// A GET is answered by BLOB, CHUNK*, END (END after offset + length bytes for a range),
// or by a single ERROR; a STAT_EXPERT by INFO or ERROR; then the server closes (versions
// 1 and 2) or waits for the next request (version 3). BLOB carries the version of the
// request it answers; INFO always carries version 2 (its body is the same in version 3).
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

inline constexpr std::uint16_t k_protocol_version = 1;   // the original version
inline constexpr std::uint16_t k_protocol_version_2 = 2; // ranges and STAT_EXPERT
inline constexpr std::uint16_t k_protocol_version_3 = 3; // version 2 on a persistent session
inline constexpr std::size_t k_request_size = 48;         // version 1; the prefix of version 2
inline constexpr std::size_t k_request_size_v2 = 64;
inline constexpr std::size_t k_info_body_size = 48;
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

enum class FrameType : std::uint8_t { k_blob = 1, k_chunk = 2, k_end = 3, k_error = 4, k_info = 5 };
enum class RequestType : std::uint8_t { k_get = 1, k_stat_expert = 2 };

struct GetRequest {
  std::uint16_t version = k_protocol_version;
  BlobId id;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // version 2: 0 = to the end
  RequestType type = RequestType::k_get;
  std::uint32_t layer = 0;   // version 2, STAT_EXPERT
  std::uint32_t expert = 0;
};

struct InfoBody {
  std::uint64_t total_size = 0;
  BlobId id;
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

// 48 bytes for version 1 (type must be GET), 64 for versions 2 and 3.
[[nodiscard]] std::vector<std::byte> encode_request(const GetRequest& request);
// From the first 48 bytes: the request's whole size (48 or 64). Fails with k_protocol (bad
// magic) or k_unsupported_version.
[[nodiscard]] Expected<std::size_t, TransferError> request_size(std::span<const std::byte> first48);
// Fails with k_protocol (bad magic, type, reserved byte, size for the version, a STAT with
// a blob id) or k_unsupported_version; the version is named in the error message.
[[nodiscard]] Expected<GetRequest, TransferError> decode_request(std::span<const std::byte> bytes);

[[nodiscard]] std::array<std::byte, k_frame_header_size> encode_frame_header(FrameType type, std::uint32_t length);
// Validates the type and the length against the limits for that type.
[[nodiscard]] Expected<FrameHeader, TransferError> decode_frame_header(std::span<const std::byte> bytes,
                                                                       const Limits& limits);

// `version` is the version of the request being answered (1 or 2).
[[nodiscard]] std::vector<std::byte> encode_blob_frame(const BlobHeader& header,
                                                       std::uint16_t version = k_protocol_version);
[[nodiscard]] Expected<BlobHeader, TransferError> decode_blob_body(std::span<const std::byte> body,
                                                                   const Limits& limits);

[[nodiscard]] std::vector<std::byte> encode_info_frame(const InfoBody& info);
[[nodiscard]] Expected<InfoBody, TransferError> decode_info_body(std::span<const std::byte> body, const Limits& limits);

[[nodiscard]] std::vector<std::byte> encode_error_frame(TransferErrc code, std::string message);
[[nodiscard]] Expected<ErrorBody, TransferError> decode_error_body(std::span<const std::byte> body);

}  // namespace slimcache::agent::transfer
