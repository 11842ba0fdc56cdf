#include "agent/transfer/protocol.hpp"

#include <cstring>

namespace slimcache::agent::transfer {
namespace {

constexpr std::array<char, 4> k_magic{'S', 'L', 'X', 'F'};

template <typename T>
void put_le(std::byte* out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}

template <typename T>
T get_le(const std::byte* in) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(std::to_integer<std::uint8_t>(in[i])) << (8 * i);
  return value;
}

Unexpected<TransferError> fail(TransferErrc code, std::string message) {
  return Unexpected(TransferError{code, std::move(message)});
}

}  // namespace

std::vector<std::byte> encode_request(const GetRequest& request) {
  const bool v2 = request.version >= k_protocol_version_2;
  std::vector<std::byte> out(v2 ? k_request_size_v2 : k_request_size);
  std::memcpy(out.data(), k_magic.data(), 4);
  put_le<std::uint16_t>(out.data() + 4, request.version);
  out[6] = static_cast<std::byte>(request.type);
  std::memcpy(out.data() + 8, request.id.bytes.data(), 32);
  put_le<std::uint64_t>(out.data() + 40, request.offset);
  if (v2) {
    put_le<std::uint64_t>(out.data() + 48, request.length);
    put_le<std::uint32_t>(out.data() + 56, request.layer);
    put_le<std::uint32_t>(out.data() + 60, request.expert);
  }
  return out;
}

Expected<std::size_t, TransferError> request_size(std::span<const std::byte> first48) {
  if (first48.size() < k_request_size) return fail(TransferErrc::k_protocol, "request shorter than 48 bytes");
  if (std::memcmp(first48.data(), k_magic.data(), 4) != 0) return fail(TransferErrc::k_protocol, "request has a bad magic");
  const auto version = get_le<std::uint16_t>(first48.data() + 4);
  if (version == k_protocol_version) return k_request_size;
  if (version == k_protocol_version_2 || version == k_protocol_version_3) return k_request_size_v2;
  return fail(TransferErrc::k_unsupported_version,
              "protocol version " + std::to_string(version) + " (this node speaks 1, 2 and 3)");
}

Expected<GetRequest, TransferError> decode_request(std::span<const std::byte> bytes) {
  if (bytes.size() != k_request_size && bytes.size() != k_request_size_v2) {
    return fail(TransferErrc::k_protocol, "request must be 48 or 64 bytes, got " + std::to_string(bytes.size()));
  }
  SLIM_TRY(const std::size_t expected, request_size(bytes));
  GetRequest request;
  request.version = get_le<std::uint16_t>(bytes.data() + 4);
  if (bytes.size() != expected) {
    return fail(TransferErrc::k_protocol, "a version " + std::to_string(request.version) + " request is " +
                                              std::to_string(expected) + " bytes, got " + std::to_string(bytes.size()));
  }
  const auto type = std::to_integer<std::uint8_t>(bytes[6]);
  const bool known = type == static_cast<std::uint8_t>(RequestType::k_get) ||
                     (request.version >= k_protocol_version_2 && type == static_cast<std::uint8_t>(RequestType::k_stat_expert));
  if (!known) return fail(TransferErrc::k_protocol, "unknown request type " + std::to_string(type));
  request.type = static_cast<RequestType>(type);
  if (bytes[7] != std::byte{0}) return fail(TransferErrc::k_protocol, "request reserved byte is not zero");
  std::memcpy(request.id.bytes.data(), bytes.data() + 8, 32);
  request.offset = get_le<std::uint64_t>(bytes.data() + 40);
  if (request.version >= k_protocol_version_2) {
    request.length = get_le<std::uint64_t>(bytes.data() + 48);
    request.layer = get_le<std::uint32_t>(bytes.data() + 56);
    request.expert = get_le<std::uint32_t>(bytes.data() + 60);
    if (request.type == RequestType::k_stat_expert &&
        (request.id != BlobId{} || request.offset != 0 || request.length != 0)) {
      return fail(TransferErrc::k_protocol, "STAT_EXPERT carries a blob id, offset or length");
    }
    if (request.type == RequestType::k_get && (request.layer != 0 || request.expert != 0)) {
      return fail(TransferErrc::k_protocol, "GET carries a layer or expert");
    }
  }
  return request;
}

std::array<std::byte, k_frame_header_size> encode_frame_header(FrameType type, std::uint32_t length) {
  std::array<std::byte, k_frame_header_size> out{};
  out[0] = static_cast<std::byte>(type);
  put_le<std::uint32_t>(out.data() + 4, length);
  return out;
}

Expected<FrameHeader, TransferError> decode_frame_header(std::span<const std::byte> bytes, const Limits& limits) {
  if (bytes.size() != k_frame_header_size) return fail(TransferErrc::k_protocol, "frame header must be 8 bytes");
  if (bytes[1] != std::byte{0} || bytes[2] != std::byte{0} || bytes[3] != std::byte{0}) {
    return fail(TransferErrc::k_protocol, "frame header reserved bytes are not zero");
  }
  FrameHeader header;
  header.length = get_le<std::uint32_t>(bytes.data() + 4);
  const auto type = std::to_integer<std::uint8_t>(bytes[0]);
  switch (type) {
    case static_cast<std::uint8_t>(FrameType::k_blob):
      if (header.length != k_blob_body_size) return fail(TransferErrc::k_protocol, "BLOB frame has a wrong length");
      break;
    case static_cast<std::uint8_t>(FrameType::k_chunk):
      if (header.length == 0) return fail(TransferErrc::k_protocol, "empty CHUNK frame");
      if (header.length > limits.max_chunk_size) {
        return fail(TransferErrc::k_too_large, "CHUNK of " + std::to_string(header.length) +
                                                   " bytes exceeds the limit of " + std::to_string(limits.max_chunk_size));
      }
      break;
    case static_cast<std::uint8_t>(FrameType::k_end):
      if (header.length != 0) return fail(TransferErrc::k_protocol, "END frame has a body");
      break;
    case static_cast<std::uint8_t>(FrameType::k_info):
      if (header.length != k_info_body_size) return fail(TransferErrc::k_protocol, "INFO frame has a wrong length");
      break;
    case static_cast<std::uint8_t>(FrameType::k_error):
      if (header.length < 2 || header.length > 2 + k_max_error_message) {
        return fail(TransferErrc::k_protocol, "ERROR frame has a wrong length");
      }
      break;
    default:
      return fail(TransferErrc::k_protocol, "unknown frame type " + std::to_string(type));
  }
  header.type = static_cast<FrameType>(type);
  return header;
}

std::vector<std::byte> encode_blob_frame(const BlobHeader& header, std::uint16_t version) {
  std::vector<std::byte> out(k_frame_header_size + k_blob_body_size);
  const auto head = encode_frame_header(FrameType::k_blob, k_blob_body_size);
  std::memcpy(out.data(), head.data(), head.size());
  std::byte* body = out.data() + k_frame_header_size;
  put_le<std::uint16_t>(body, version);
  put_le<std::uint64_t>(body + 4, header.total_size);
  put_le<std::uint64_t>(body + 12, header.offset);
  put_le<std::uint32_t>(body + 20, header.chunk_size);
  return out;
}

Expected<BlobHeader, TransferError> decode_blob_body(std::span<const std::byte> body, const Limits& limits) {
  if (body.size() != k_blob_body_size) return fail(TransferErrc::k_protocol, "BLOB body must be 24 bytes");
  const auto version = get_le<std::uint16_t>(body.data());
  if (version != k_protocol_version && version != k_protocol_version_2 && version != k_protocol_version_3) {
    return fail(TransferErrc::k_unsupported_version, "peer answered with protocol version " + std::to_string(version));
  }
  if (get_le<std::uint16_t>(body.data() + 2) != 0) return fail(TransferErrc::k_protocol, "BLOB reserved field is not zero");
  BlobHeader header;
  header.total_size = get_le<std::uint64_t>(body.data() + 4);
  header.offset = get_le<std::uint64_t>(body.data() + 12);
  header.chunk_size = get_le<std::uint32_t>(body.data() + 20);
  if (header.total_size > limits.max_blob_size) {
    return fail(TransferErrc::k_too_large, "peer claims a blob of " + std::to_string(header.total_size) +
                                               " bytes, over the limit of " + std::to_string(limits.max_blob_size));
  }
  if (header.offset > header.total_size) {
    return fail(TransferErrc::k_protocol, "BLOB offset " + std::to_string(header.offset) + " is past its size " +
                                              std::to_string(header.total_size));
  }
  if (header.chunk_size == 0 || header.chunk_size > limits.max_chunk_size) {
    return fail(TransferErrc::k_too_large, "peer announces chunks of " + std::to_string(header.chunk_size) +
                                               " bytes (limit " + std::to_string(limits.max_chunk_size) + ")");
  }
  return header;
}

std::vector<std::byte> encode_info_frame(const InfoBody& info) {
  std::vector<std::byte> out(k_frame_header_size + k_info_body_size);
  const auto head = encode_frame_header(FrameType::k_info, k_info_body_size);
  std::memcpy(out.data(), head.data(), head.size());
  std::byte* body = out.data() + k_frame_header_size;
  put_le<std::uint16_t>(body, k_protocol_version_2);
  put_le<std::uint64_t>(body + 8, info.total_size);
  std::memcpy(body + 16, info.id.bytes.data(), 32);
  return out;
}

Expected<InfoBody, TransferError> decode_info_body(std::span<const std::byte> body, const Limits& limits) {
  if (body.size() != k_info_body_size) return fail(TransferErrc::k_protocol, "INFO body must be 48 bytes");
  const auto version = get_le<std::uint16_t>(body.data());
  if (version != k_protocol_version_2) {
    return fail(TransferErrc::k_unsupported_version, "peer answered INFO with protocol version " + std::to_string(version));
  }
  if (get_le<std::uint16_t>(body.data() + 2) != 0 || get_le<std::uint32_t>(body.data() + 4) != 0) {
    return fail(TransferErrc::k_protocol, "INFO reserved fields are not zero");
  }
  InfoBody info;
  info.total_size = get_le<std::uint64_t>(body.data() + 8);
  if (info.total_size > limits.max_blob_size) {
    return fail(TransferErrc::k_too_large, "peer claims a blob of " + std::to_string(info.total_size) +
                                               " bytes, over the limit of " + std::to_string(limits.max_blob_size));
  }
  std::memcpy(info.id.bytes.data(), body.data() + 16, 32);
  return info;
}

std::vector<std::byte> encode_error_frame(TransferErrc code, std::string message) {
  if (message.size() > k_max_error_message) message.resize(k_max_error_message);
  const auto length = static_cast<std::uint32_t>(2 + message.size());
  std::vector<std::byte> out(k_frame_header_size + length);
  const auto head = encode_frame_header(FrameType::k_error, length);
  std::memcpy(out.data(), head.data(), head.size());
  put_le<std::uint16_t>(out.data() + k_frame_header_size, static_cast<std::uint16_t>(code));
  std::memcpy(out.data() + k_frame_header_size + 2, message.data(), message.size());
  return out;
}

Expected<ErrorBody, TransferError> decode_error_body(std::span<const std::byte> body) {
  if (body.size() < 2 || body.size() > 2 + k_max_error_message) {
    return fail(TransferErrc::k_protocol, "ERROR body has a wrong length");
  }
  const auto code = get_le<std::uint16_t>(body.data());
  if (code > static_cast<std::uint16_t>(TransferErrc::k_no_space)) {
    return fail(TransferErrc::k_protocol, "ERROR has an unknown code " + std::to_string(code));
  }
  ErrorBody out;
  out.code = static_cast<TransferErrc>(code);
  out.message.assign(reinterpret_cast<const char*>(body.data() + 2), body.size() - 2);
  return out;
}

}  // namespace slimcache::agent::transfer
