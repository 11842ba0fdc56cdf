#pragma once
// The admin protocol spoken on slimcached's Unix socket (docs/admin-protocol.md).
//
// A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
// Frames are at most k_max_frame bytes. The client sends one request per frame:
//   {"v": 1, "id": <uint>, "cmd": "<name>", "args": {...}}
// and the server answers with zero or more progress frames and exactly one final frame:
//   {"v": 1, "id": <id>, "progress": {"done": <n>, "total": <n>, "what": "..."}}
//   {"v": 1, "id": <id>, "ok": true,  "result": {...}}
//   {"v": 1, "id": <id>, "ok": false, "error": {"code": "<code>", "message": "..."}}
// Version rule: fields are only ever added; a server answers a request whose "v" is
// greater than its own with error code "unsupported_version".
//
// The codec is I/O-free and thread-compatible (no shared state).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "solver/expected.hpp"

namespace slimcache::agent::admin {

inline constexpr std::uint32_t k_protocol_version = 1;
inline constexpr std::size_t k_max_frame = 1u << 20;

enum class ErrorCode {
  k_bad_request,          // not a valid request frame
  k_unsupported_version,  // the client speaks a newer protocol
  k_unknown_command,
  k_bad_arguments,
  k_permission_denied,
  k_busy,                 // too many connections or operations in flight
  k_failed,               // the operation was valid but did not succeed
  k_unavailable,          // daemon not running / not reachable (client side only)
  k_timeout,              // no answer in time (client side only)
};

[[nodiscard]] const char* to_string(ErrorCode code);
[[nodiscard]] std::optional<ErrorCode> error_code_from_string(const std::string& s);

struct Error {
  ErrorCode code = ErrorCode::k_failed;
  std::string message;
};

struct Request {
  std::uint64_t id = 0;
  std::uint32_t version = k_protocol_version;
  std::string cmd;
  nlohmann::json args = nlohmann::json::object();
};

struct Response {
  std::uint64_t id = 0;
  enum class Kind { k_progress, k_result, k_error } kind = Kind::k_result;
  nlohmann::json body;  // progress object, result object, or unused for errors
  Error error;
};

// Encodes a frame (length prefix + JSON). Never fails for valid JSON objects; a body over
// k_max_frame is replaced by an error response of code k_failed.
[[nodiscard]] std::vector<std::uint8_t> encode_request(const Request& request);
[[nodiscard]] std::vector<std::uint8_t> encode_response(const Response& response);

// Incremental frame splitter: feed bytes as they arrive, take complete frame bodies out.
class FrameReader {
 public:
  // Appends bytes. Returns an error (and stays failed) when a length prefix exceeds k_max_frame.
  [[nodiscard]] Expected<void, Error> feed(std::span<const std::uint8_t> bytes);
  // The next complete frame body, if any.
  [[nodiscard]] std::optional<std::string> next();

 private:
  std::vector<std::uint8_t> m_buffer;
  bool m_failed = false;
};

// Parses a frame body. Requests must have a non-empty "cmd" string and an object "args".
[[nodiscard]] Expected<Request, Error> decode_request(std::string_view body);
[[nodiscard]] Expected<Response, Error> decode_response(std::string_view body);

}  // namespace slimcache::agent::admin
