#include "agent/exec/exec_protocol.hpp"

#include <bit>
#include <cstring>

namespace slimcache::agent::exec {
namespace {

Unexpected<ExecError> fail(ExecErrc code, std::string message) { return Unexpected(ExecError{code, std::move(message)}); }

class Writer {
 public:
  void u8(std::uint8_t v) { m_out.push_back(static_cast<std::byte>(v)); }
  void u16(std::uint16_t v) {
    for (int i = 0; i < 2; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void str(std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    m_out.insert(m_out.end(), p, p + s.size());
  }
  void floats(std::span<const float> v) {
    const std::size_t at = m_out.size();
    m_out.resize(at + v.size() * 4);
    if constexpr (std::endian::native == std::endian::little) {
      if (!v.empty()) std::memcpy(m_out.data() + at, v.data(), v.size() * 4);
    } else {
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto bits = std::bit_cast<std::uint32_t>(v[i]);
        for (int b = 0; b < 4; ++b) m_out[at + 4 * i + b] = static_cast<std::byte>(bits >> (8 * b));
      }
    }
  }
  // Header placeholder; finish() fills the length.
  void header(ExecFrameType type) {
    u32(k_exec_magic);
    u8(k_exec_protocol_version);
    u8(static_cast<std::uint8_t>(type));
    u16(0);
    u32(0);
  }
  Expected<std::vector<std::byte>, ExecError> finish() {
    const std::size_t body = m_out.size() - k_exec_header_size;
    if (body > k_max_body) return fail(ExecErrc::k_invalid_argument, "frame body over the 64 MiB limit");
    for (int i = 0; i < 4; ++i) m_out[8 + i] = static_cast<std::byte>(body >> (8 * i));
    return std::move(m_out);
  }

 private:
  std::vector<std::byte> m_out;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : m_in(in) {}
  [[nodiscard]] std::size_t left() const { return m_in.size() - m_pos; }
  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = static_cast<std::uint8_t>(m_in[m_pos++]);
    return true;
  }
  template <typename T>
  bool le(T& v) {
    if (left() < sizeof(T)) return false;
    v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(m_in[m_pos + i]) << (8 * i));
    m_pos += sizeof(T);
    return true;
  }
  bool str(std::size_t n, std::string& s) {
    if (left() < n) return false;
    s.assign(reinterpret_cast<const char*>(m_in.data() + m_pos), n);
    m_pos += n;
    return true;
  }
  bool floats(std::size_t n, std::vector<float>& v) {
    if (left() / 4 < n) return false;
    v.resize(n);
    if constexpr (std::endian::native == std::endian::little) {
      if (n != 0) std::memcpy(v.data(), m_in.data() + m_pos, n * 4);
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t bits = 0;
        for (int b = 0; b < 4; ++b) bits |= static_cast<std::uint32_t>(m_in[m_pos + 4 * i + b]) << (8 * b);
        v[i] = std::bit_cast<float>(bits);
      }
    }
    m_pos += n * 4;
    return true;
  }

 private:
  std::span<const std::byte> m_in;
  std::size_t m_pos = 0;
};

std::uint64_t state_size(std::uint32_t tokens, std::uint32_t hidden) {
  return static_cast<std::uint64_t>(tokens) * hidden;
}

Unexpected<ExecError> truncated(const char* what) { return fail(ExecErrc::k_truncated, std::string("truncated ") + what); }

}  // namespace

Expected<std::vector<std::byte>, ExecError> encode_request(const ExecuteRequest& r) {
  if (r.experts.empty() || r.experts.size() > k_max_request_experts)
    return fail(ExecErrc::k_invalid_argument, "a request carries 1 to 64 experts");
  if (r.model.size() > k_max_model_id) return fail(ExecErrc::k_invalid_argument, "model id over 64 bytes");
  if (r.tokens == 0 || r.hidden == 0 || r.x.size() != state_size(r.tokens, r.hidden))
    return fail(ExecErrc::k_invalid_argument, "x must hold tokens x hidden floats (both > 0)");
  if (state_size(r.tokens, r.hidden) > k_max_body / 4) return fail(ExecErrc::k_invalid_argument, "hidden states over 64 MiB");
  Writer w;
  w.header(ExecFrameType::k_execute_request);
  w.u64(r.request_id);
  w.u8(r.flags);
  w.u8(static_cast<std::uint8_t>(r.model.size()));
  w.str(r.model);
  w.u32(r.layer);
  w.u32(r.tokens);
  w.u32(r.hidden);
  w.u16(static_cast<std::uint16_t>(r.experts.size()));
  for (const auto& e : r.experts) {
    if (e.holder.size() > k_max_holder) return fail(ExecErrc::k_invalid_argument, "holder address over 47 bytes");
    w.u32(e.expert);
    w.u8(static_cast<std::uint8_t>(e.holder.size()));
    w.str(e.holder);
  }
  w.floats(r.x);
  return w.finish();
}

Expected<std::vector<std::byte>, ExecError> encode_response(const ExecuteResponse& r) {
  if (r.experts.size() > k_max_request_experts) return fail(ExecErrc::k_invalid_argument, "over 64 experts");
  const std::uint64_t n = state_size(r.tokens, r.hidden);
  if (n > k_max_body / 4) return fail(ExecErrc::k_invalid_argument, "outputs over 64 MiB");
  Writer w;
  w.header(ExecFrameType::k_execute_response);
  w.u64(r.request_id);
  w.u32(r.tokens);
  w.u32(r.hidden);
  w.u16(static_cast<std::uint16_t>(r.experts.size()));
  for (const auto& e : r.experts) {
    const bool ok = e.status == ExpertStatus::k_ok;
    if (ok ? e.y.size() != n : !e.y.empty())
      return fail(ExecErrc::k_invalid_argument, "an ok expert carries tokens x hidden outputs, others none");
    w.u32(e.expert);
    w.u8(static_cast<std::uint8_t>(e.status));
    w.u8(static_cast<std::uint8_t>(e.served));
  }
  for (const auto& e : r.experts) w.floats(e.y);
  return w.finish();
}

std::vector<std::byte> encode_error(const ErrorMessage& e) {
  const std::string_view message = std::string_view(e.message).substr(0, k_max_exec_message);
  Writer w;
  w.header(ExecFrameType::k_error);
  w.u64(e.request_id);
  w.u16(static_cast<std::uint16_t>(e.code));
  w.u16(static_cast<std::uint16_t>(message.size()));
  w.str(message);
  return std::move(w.finish()).value();  // at most ~280 bytes: never over the limit
}

Expected<FrameHeader, ExecError> decode_frame_header(std::span<const std::byte> header) {
  Reader r(header);
  std::uint32_t magic = 0, length = 0;
  std::uint8_t version = 0, type = 0;
  std::uint16_t reserved = 0;
  if (!r.le(magic) || !r.u8(version) || !r.u8(type) || !r.le(reserved) || !r.le(length)) return truncated("frame header");
  if (magic != k_exec_magic) return fail(ExecErrc::k_bad_magic, "not an execution protocol frame");
  if (version != k_exec_protocol_version)
    return fail(ExecErrc::k_unsupported_version, "execution protocol version " + std::to_string(version) + " (this build speaks 1)");
  if (type < 1 || type > 3) return fail(ExecErrc::k_bad_header, "unknown frame type " + std::to_string(type));
  if (reserved != 0) return fail(ExecErrc::k_bad_header, "reserved header bits set");
  if (length > k_max_body) return fail(ExecErrc::k_bad_header, "frame body of " + std::to_string(length) + " bytes is over the limit");
  return FrameHeader{static_cast<ExecFrameType>(type), length};
}

Expected<ExecuteRequest, ExecError> decode_request_body(std::span<const std::byte> body) {
  Reader r(body);
  ExecuteRequest q;
  std::uint8_t model_len = 0;
  std::uint16_t count = 0;
  if (!r.le(q.request_id) || !r.u8(q.flags) || !r.u8(model_len)) return truncated("request");
  if ((q.flags & ~k_local_only) != 0) return fail(ExecErrc::k_bad_header, "unknown request flags");
  if (model_len > k_max_model_id) return fail(ExecErrc::k_bad_header, "model id over 64 bytes");
  if (!r.str(model_len, q.model) || !r.le(q.layer) || !r.le(q.tokens) || !r.le(q.hidden) || !r.le(count))
    return truncated("request");
  if (count == 0 || count > k_max_request_experts) return fail(ExecErrc::k_bad_header, "a request carries 1 to 64 experts");
  if (q.tokens == 0 || q.hidden == 0) return fail(ExecErrc::k_bad_header, "tokens and hidden must be > 0");
  q.experts.resize(count);
  for (auto& e : q.experts) {
    std::uint8_t holder_len = 0;
    if (!r.le(e.expert) || !r.u8(holder_len)) return truncated("expert list");
    if (holder_len > k_max_holder) return fail(ExecErrc::k_bad_header, "holder address over 47 bytes");
    if (!r.str(holder_len, e.holder)) return truncated("expert list");
  }
  const std::uint64_t n = state_size(q.tokens, q.hidden);
  if (n > k_max_body / 4 || n * 4 != r.left()) return fail(ExecErrc::k_bad_header, "hidden states do not match tokens x hidden");
  if (!r.floats(static_cast<std::size_t>(n), q.x)) return truncated("hidden states");
  return q;
}

Expected<ExecuteResponse, ExecError> decode_response_body(std::span<const std::byte> body) {
  Reader r(body);
  ExecuteResponse p;
  std::uint16_t count = 0;
  if (!r.le(p.request_id) || !r.le(p.tokens) || !r.le(p.hidden) || !r.le(count)) return truncated("response");
  if (count > k_max_request_experts) return fail(ExecErrc::k_bad_header, "over 64 experts");
  p.experts.resize(count);
  std::uint64_t ok = 0;
  for (auto& e : p.experts) {
    std::uint8_t status = 0, served = 0;
    if (!r.le(e.expert) || !r.u8(status) || !r.u8(served)) return truncated("expert list");
    if (status > 3 || served > 3) return fail(ExecErrc::k_bad_header, "unknown expert status");
    e.status = static_cast<ExpertStatus>(status);
    e.served = static_cast<ServedFrom>(served);
    if (e.status == ExpertStatus::k_ok) ++ok;
  }
  const std::uint64_t n = state_size(p.tokens, p.hidden);
  if (ok > 0 && (p.tokens == 0 || p.hidden == 0)) return fail(ExecErrc::k_bad_header, "empty outputs");
  if (n > k_max_body / 4 || ok * n * 4 != r.left()) return fail(ExecErrc::k_bad_header, "outputs do not match the expert list");
  for (auto& e : p.experts) {
    if (e.status == ExpertStatus::k_ok && !r.floats(static_cast<std::size_t>(n), e.y)) return truncated("outputs");
  }
  return p;
}

Expected<ErrorMessage, ExecError> decode_error_body(std::span<const std::byte> body) {
  Reader r(body);
  ErrorMessage e;
  std::uint16_t code = 0, len = 0;
  if (!r.le(e.request_id) || !r.le(code) || !r.le(len)) return truncated("error");
  if (len > k_max_exec_message) return fail(ExecErrc::k_bad_header, "error message over 256 bytes");
  if (!r.str(len, e.message)) return truncated("error");
  if (r.left() != 0) return fail(ExecErrc::k_bad_header, "bytes after the error message");
  e.code = static_cast<ExecWireError>(code);
  return e;
}

}  // namespace slimcache::agent::exec
