// Fuzz target: the admin socket's frame reader and request/response decoders.
#include <cstdint>
#include <string_view>

#include "agent/admin/admin_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace slimcache::agent::admin;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)decode_request(text);
  (void)decode_response(text);
  FrameReader reader;
  // Feed in two uneven pieces to exercise reassembly.
  const std::size_t half = size / 3;
  if (reader.feed({data, half}).has_value() && reader.feed({data + half, size - half}).has_value()) {
    while (auto body = reader.next()) {
      if (auto request = decode_request(*body)) (void)encode_request(*request);
    }
  }
  return 0;
}
