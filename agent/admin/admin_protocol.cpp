#include "agent/admin/admin_protocol.hpp"

#include <array>
#include <cstring>

namespace slimcache::agent::admin {

namespace {

constexpr std::array<const char*, 9> k_codes{"bad_request", "unsupported_version", "unknown_command",
                                             "bad_arguments", "permission_denied", "busy",
                                             "failed", "unavailable", "timeout"};

std::vector<std::uint8_t> frame(const std::string& body) {
  std::vector<std::uint8_t> out(4 + body.size());
  const auto n = static_cast<std::uint32_t>(body.size());
  out[0] = static_cast<std::uint8_t>(n >> 24);
  out[1] = static_cast<std::uint8_t>(n >> 16);
  out[2] = static_cast<std::uint8_t>(n >> 8);
  out[3] = static_cast<std::uint8_t>(n);
  std::memcpy(out.data() + 4, body.data(), body.size());
  return out;
}

Unexpected<Error> bad(std::string message) { return Unexpected(Error{ErrorCode::k_bad_request, std::move(message)}); }

std::string dump(const nlohmann::json& j) {
  // Replace invalid UTF-8 rather than throwing: messages may quote user input.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const char* to_string(ErrorCode code) { return k_codes.at(static_cast<std::size_t>(code)); }

std::optional<ErrorCode> error_code_from_string(const std::string& s) {
  for (std::size_t i = 0; i < k_codes.size(); ++i) {
    if (s == k_codes[i]) return static_cast<ErrorCode>(i);
  }
  return std::nullopt;
}

std::vector<std::uint8_t> encode_request(const Request& request) {
  nlohmann::json j{{"v", request.version},
                   {"id", request.id},
                   {"cmd", request.cmd},
                   {"args", request.args.is_null() ? nlohmann::json::object() : request.args}};
  return frame(dump(j));
}

std::vector<std::uint8_t> encode_response(const Response& response) {
  nlohmann::json j{{"v", k_protocol_version}, {"id", response.id}};
  switch (response.kind) {
    case Response::Kind::k_progress:
      j["progress"] = response.body;
      break;
    case Response::Kind::k_result:
      j["ok"] = true;
      j["result"] = response.body;
      break;
    case Response::Kind::k_error:
      j["ok"] = false;
      j["error"] = {{"code", to_string(response.error.code)}, {"message", response.error.message}};
      break;
  }
  std::string body = dump(j);
  if (body.size() > k_max_frame) {
    nlohmann::json e{{"v", k_protocol_version},
                     {"id", response.id},
                     {"ok", false},
                     {"error", {{"code", "failed"}, {"message", "response larger than the frame limit"}}}};
    body = dump(e);
  }
  return frame(body);
}

Expected<void, Error> FrameReader::feed(std::span<const std::uint8_t> bytes) {
  if (m_failed) return Unexpected(Error{ErrorCode::k_bad_request, "stream already failed"});
  m_buffer.insert(m_buffer.end(), bytes.begin(), bytes.end());
  if (m_buffer.size() >= 4) {
    const std::size_t n = (std::size_t{m_buffer[0]} << 24) | (std::size_t{m_buffer[1]} << 16) |
                          (std::size_t{m_buffer[2]} << 8) | std::size_t{m_buffer[3]};
    if (n > k_max_frame) {
      m_failed = true;
      m_buffer.clear();
      return Unexpected(Error{ErrorCode::k_bad_request, "frame of " + std::to_string(n) + " bytes exceeds the limit"});
    }
  }
  return {};
}

std::optional<std::string> FrameReader::next() {
  if (m_failed || m_buffer.size() < 4) return std::nullopt;
  const std::size_t n = (std::size_t{m_buffer[0]} << 24) | (std::size_t{m_buffer[1]} << 16) |
                        (std::size_t{m_buffer[2]} << 8) | std::size_t{m_buffer[3]};
  if (n > k_max_frame) {
    m_failed = true;
    return std::nullopt;
  }
  if (m_buffer.size() < 4 + n) return std::nullopt;
  std::string body(m_buffer.begin() + 4, m_buffer.begin() + 4 + static_cast<std::ptrdiff_t>(n));
  m_buffer.erase(m_buffer.begin(), m_buffer.begin() + 4 + static_cast<std::ptrdiff_t>(n));
  // A following length prefix may already be too large.
  if (m_buffer.size() >= 4) {
    const std::size_t m = (std::size_t{m_buffer[0]} << 24) | (std::size_t{m_buffer[1]} << 16) |
                          (std::size_t{m_buffer[2]} << 8) | std::size_t{m_buffer[3]};
    if (m > k_max_frame) {
      m_failed = true;
      m_buffer.clear();
    }
  }
  return body;
}

Expected<Request, Error> decode_request(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("request is not a JSON object");
  Request r;
  const auto v = j.find("v");
  if (v == j.end() || !v->is_number_unsigned()) return bad("request has no protocol version \"v\"");
  r.version = v->get<std::uint32_t>();
  const auto id = j.find("id");
  if (id != j.end()) {
    if (!id->is_number_unsigned()) return bad("\"id\" must be an unsigned integer");
    r.id = id->get<std::uint64_t>();
  }
  const auto cmd = j.find("cmd");
  if (cmd == j.end() || !cmd->is_string() || cmd->get_ref<const std::string&>().empty())
    return bad("request has no \"cmd\" string");
  r.cmd = cmd->get<std::string>();
  const auto args = j.find("args");
  if (args != j.end()) {
    if (!args->is_object()) return bad("\"args\" must be an object");
    r.args = *args;
  }
  return r;
}

Expected<Response, Error> decode_response(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("response is not a JSON object");
  Response r;
  const auto id = j.find("id");
  if (id == j.end() || !id->is_number_unsigned()) return bad("response has no \"id\"");
  r.id = id->get<std::uint64_t>();
  if (const auto p = j.find("progress"); p != j.end()) {
    r.kind = Response::Kind::k_progress;
    r.body = *p;
    return r;
  }
  const auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return bad("response has neither \"ok\" nor \"progress\"");
  if (ok->get<bool>()) {
    r.kind = Response::Kind::k_result;
    const auto res = j.find("result");
    r.body = res == j.end() ? nlohmann::json::object() : *res;
    return r;
  }
  r.kind = Response::Kind::k_error;
  const auto err = j.find("error");
  if (err == j.end() || !err->is_object()) return bad("error response without \"error\" object");
  const auto code = err->find("code");
  const auto msg = err->find("message");
  r.error.code = ErrorCode::k_failed;
  if (code != err->end() && code->is_string()) {
    if (auto c = error_code_from_string(code->get<std::string>())) r.error.code = *c;
  }
  if (msg != err->end() && msg->is_string()) r.error.message = msg->get<std::string>();
  return r;
}

}  // namespace slimcache::agent::admin
