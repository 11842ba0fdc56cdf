// Fuzz target: the expert execution protocol's decoders (agent/exec/exec_protocol.hpp).
// Input: one frame (12-byte header + body). Invariants: nothing decoded exceeds the limits,
// and whatever decodes re-encodes to exactly the same bytes (the encoding is canonical).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "agent/exec/exec_protocol.hpp"

using namespace slimcache::agent::exec;

namespace {

void same_or_abort(const std::vector<std::byte>& again, const std::byte* bytes, std::size_t size) {
  if (again.size() != size || std::memcmp(again.data(), bytes, size) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  if (size < k_exec_header_size) return 0;
  auto header = decode_frame_header(std::span(bytes, k_exec_header_size));
  if (!header) return 0;
  if (header->length > k_max_body) std::abort();
  if (header->length != size - k_exec_header_size) return 0;  // a truncated or longer stream
  const std::span body(bytes + k_exec_header_size, header->length);
  switch (header->type) {
    case ExecFrameType::k_execute_request: {
      auto request = decode_request_body(body);
      if (!request) return 0;
      if (request->experts.empty() || request->experts.size() > k_max_request_experts) std::abort();
      if (request->x.size() != static_cast<std::uint64_t>(request->tokens) * request->hidden) std::abort();
      auto again = encode_request(*request);
      if (!again) std::abort();
      same_or_abort(*again, bytes, size);
      break;
    }
    case ExecFrameType::k_execute_response: {
      auto response = decode_response_body(body);
      if (!response) return 0;
      if (response->experts.size() > k_max_request_experts) std::abort();
      auto again = encode_response(*response);
      if (!again) std::abort();
      same_or_abort(*again, bytes, size);
      break;
    }
    case ExecFrameType::k_error: {
      auto error = decode_error_body(body);
      if (!error) return 0;
      if (error->message.size() > k_max_exec_message) std::abort();
      same_or_abort(encode_error(*error), bytes, size);
      break;
    }
  }
  return 0;
}
