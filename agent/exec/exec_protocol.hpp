#pragma once
// The expert execution wire protocol (local engine <-> slimcached over a Unix socket, and
// slimcached <-> slimcached inside TLS). Pure encode/decode: no I/O, no state.
//
// All integers and floats little-endian. Version 1; message types are append-only.
// Every message is one frame: a 12-byte header, then `length` body bytes:
//   0 u32 magic "SXEC"   4 u8 version (1)   5 u8 type   6 u16 reserved (0)   8 u32 length
// Connections are persistent: a client sends a request frame, reads exactly one answer
// frame (EXECUTE_RESPONSE or ERROR), and may send the next one.
//
//   type 1 EXECUTE_REQUEST
//     u64 request_id, u8 flags (ExecFlags), u8 model_len, model (<= 64 bytes),
//     u32 layer, u32 tokens, u32 hidden, u16 count (1..k_max_request_experts),
//     count x { u32 expert, u8 holder_len, holder "host:port" (<= 47 bytes, "" = here) },
//     tokens * hidden f32 (the hidden states, token-major)
//   type 2 EXECUTE_RESPONSE
//     u64 request_id, u32 tokens, u32 hidden, u16 count,
//     count x { u32 expert, u8 status (ExpertStatus), u8 served (ServedFrom) },
//     then for each expert with status k_ok, in order: tokens * hidden f32
//   type 3 ERROR
//     u64 request_id, u16 code (ExecWireError), u16 message_len, message (<= 256 bytes)
//
// Decoders reject absurd claims before allocating: bodies over k_max_body, counts, sizes
// that disagree with the body length, unknown types and versions, non-zero reserved bits.
// Complexity: linear in the body. Threads: pure functions.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agent/exec/exec_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::exec {

inline constexpr std::uint32_t k_exec_magic = 0x43455853;  // "SXEC" in little-endian order
inline constexpr std::uint8_t k_exec_protocol_version = 1;
inline constexpr std::size_t k_exec_header_size = 12;
inline constexpr std::uint32_t k_max_body = 64u << 20;  // 64 MiB
inline constexpr std::size_t k_max_request_experts = 64;
inline constexpr std::size_t k_max_model_id = 64;
inline constexpr std::size_t k_max_holder = 47;
inline constexpr std::size_t k_max_exec_message = 256;

enum class ExecFrameType : std::uint8_t { k_execute_request = 1, k_execute_response = 2, k_error = 3 };

// Request flags (bit set).
enum ExecFlags : std::uint8_t {
  k_flags_none = 0,
  k_local_only = 1,  // execute here; ignore holders, never forward (what peers receive)
};

// Values are part of the protocol (append-only).
enum class ExpertStatus : std::uint8_t {
  k_ok = 0,
  k_not_found = 1,    // not on this node (nor on any holder that answered)
  k_failed = 2,       // the payload or the kernel failed
  k_unavailable = 3,  // no holder answered and the local fallback could not load it
};
enum class ServedFrom : std::uint8_t { k_memory = 0, k_local_disk = 1, k_peer = 2, k_none = 3 };

enum class ExecWireError : std::uint16_t {
  k_bad_request = 1,     // undecodable or inconsistent request
  k_wrong_model = 2,     // the request names another model than the one this node serves
  k_no_model = 3,        // this node has no model yet
  k_invalid_range = 4,   // layer or expert out of range, hidden size mismatch
  k_internal = 5,
};

struct FrameHeader {
  ExecFrameType type = ExecFrameType::k_execute_request;
  std::uint32_t length = 0;
};

struct RequestExpert {
  std::uint32_t expert = 0;
  std::string holder;  // "host:port", "" = execute on the receiving node
};

struct ExecuteRequest {
  std::uint64_t request_id = 0;
  std::uint8_t flags = k_flags_none;
  std::string model;
  std::uint32_t layer = 0;
  std::uint32_t tokens = 0;
  std::uint32_t hidden = 0;
  std::vector<RequestExpert> experts;
  std::vector<float> x;  // tokens * hidden
};

struct ResponseExpert {
  std::uint32_t expert = 0;
  ExpertStatus status = ExpertStatus::k_ok;
  ServedFrom served = ServedFrom::k_none;
  std::vector<float> y;  // tokens * hidden when k_ok, else empty
};

struct ExecuteResponse {
  std::uint64_t request_id = 0;
  std::uint32_t tokens = 0;
  std::uint32_t hidden = 0;
  std::vector<ResponseExpert> experts;
};

struct ErrorMessage {
  std::uint64_t request_id = 0;
  ExecWireError code = ExecWireError::k_internal;
  std::string message;  // truncated to k_max_exec_message by the encoder
};

// Whole frames (header + body). Encoders fail (k_invalid_argument) on values the decoder
// would reject: too many experts, long strings, x or y of the wrong size, a body over k_max_body.
Expected<std::vector<std::byte>, ExecError> encode_request(const ExecuteRequest& request);
Expected<std::vector<std::byte>, ExecError> encode_response(const ExecuteResponse& response);
std::vector<std::byte> encode_error(const ErrorMessage& error);

// The 12-byte header. k_bad_magic, k_unsupported_version, k_bad_header (type, reserved, length).
Expected<FrameHeader, ExecError> decode_frame_header(std::span<const std::byte> header);
// Bodies (without the header).
Expected<ExecuteRequest, ExecError> decode_request_body(std::span<const std::byte> body);
Expected<ExecuteResponse, ExecError> decode_response_body(std::span<const std::byte> body);
Expected<ErrorMessage, ExecError> decode_error_body(std::span<const std::byte> body);

}  // namespace slimcache::agent::exec
