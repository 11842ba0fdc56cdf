// Fuzz target: the transfer protocol's decoders (agent/transfer/protocol.hpp).
// Input: a request (48 bytes for version 1, 64 for version 2, as request_size() says), then
// a server's response stream (frames), walked the way the client walks it. Invariants:
// nothing decoded exceeds the limits, a decoded request re-encodes to the same bytes, and no
// frame makes the walk allocate more than a chunk.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "agent/transfer/protocol.hpp"

using namespace slimcache::agent::transfer;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  const Limits limits{64 * 1024, 1ull << 30};
  std::size_t pos = 0;
  if (size >= k_request_size) {
    std::size_t request_bytes = k_request_size;
    if (auto need = request_size(std::span(bytes, k_request_size)); need && *need <= size) request_bytes = *need;
    auto request = decode_request(std::span(bytes, request_bytes));
    if (request) {
      const auto again = encode_request(*request);
      if (again.size() != request_bytes || std::memcmp(again.data(), bytes, request_bytes) != 0) std::abort();
    }
    pos = request_bytes;
  }
  std::uint64_t total = 0;
  std::uint64_t received = 0;
  bool have_blob = false;
  // Bounded: every iteration consumes at least the 8-byte header.
  while (pos + k_frame_header_size <= size) {
    auto head = decode_frame_header(std::span(bytes + pos, k_frame_header_size), limits);
    pos += k_frame_header_size;
    if (!head) return 0;
    if (head->type == FrameType::k_chunk && head->length > limits.max_chunk_size) std::abort();
    if (head->length > size - pos) return 0;  // truncated stream
    const std::span body(bytes + pos, head->length);
    pos += head->length;
    switch (head->type) {
      case FrameType::k_blob: {
        auto blob = decode_blob_body(body, limits);
        if (!blob) return 0;
        if (blob->total_size > limits.max_blob_size || blob->offset > blob->total_size) std::abort();
        if (blob->chunk_size == 0 || blob->chunk_size > limits.max_chunk_size) std::abort();
        have_blob = true;
        total = blob->total_size;
        received = blob->offset;
        break;
      }
      case FrameType::k_chunk:
        if (!have_blob || head->length > total - received) return 0;  // the client rejects this
        received += head->length;
        break;
      case FrameType::k_end:
        return 0;
      case FrameType::k_info: {
        auto info = decode_info_body(body, limits);
        if (info && info->total_size > limits.max_blob_size) std::abort();
        return 0;
      }
      case FrameType::k_error: {
        auto error = decode_error_body(body);
        if (error && error->message.size() > k_max_error_message) std::abort();
        return 0;
      }
    }
  }
  return 0;
}
