#include "agent/exec/exec_client.hpp"

namespace slimcache::agent::exec {

Expected<ExecuteResponse, ExecError> ExecConnection::call(const ExecuteRequest& request) {
  SLIM_TRY_VOID(send(request));
  return receive(request.request_id);
}

Expected<void, ExecError> ExecConnection::send(const ExecuteRequest& request) {
  auto frame = encode_request(request);
  if (!frame) return Unexpected(frame.error());
  m_healthy = false;  // until a whole answer was read
  return m_stream->write_all(*frame);
}

Expected<ExecuteResponse, ExecError> ExecConnection::receive(std::uint64_t request_id) {
  SLIM_TRY(auto answer, read_frame(*m_stream));
  switch (answer.header.type) {
    case ExecFrameType::k_execute_response: {
      SLIM_TRY(auto response, decode_response_body(answer.body));
      if (response.request_id != request_id)
        return Unexpected(ExecError{ExecErrc::k_bad_header, "answer to another request"});
      m_healthy = true;
      return response;
    }
    case ExecFrameType::k_error: {
      SLIM_TRY(auto error, decode_error_body(answer.body));
      m_healthy = true;
      return Unexpected(ExecError{ExecErrc::k_remote, error.message});
    }
    case ExecFrameType::k_execute_request:
      break;
  }
  return Unexpected(ExecError{ExecErrc::k_bad_header, "unexpected request frame from the server"});
}

Expected<ExecuteResponse, ExecError> PeerPool::call(const std::string& address, const ExecuteRequest& request) {
  if (!m_context) return Unexpected(ExecError{ExecErrc::k_io, "no cluster key: peer execution is disabled"});
  // A pooled connection may have been closed by the peer meanwhile: one retry on a fresh one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<ExecConnection> connection;
    bool reused = false;
    {
      std::lock_guard lock(m_mutex);
      auto& idle = m_idle[address];
      if (!idle.empty()) {
        connection = std::move(idle.back());
        idle.pop_back();
        reused = true;
      }
    }
    if (!connection) {
      auto stream = connect_tls(address, m_context, m_timeout);
      if (!stream) return Unexpected(stream.error());
      connection = std::make_unique<ExecConnection>(std::move(stream).value());
    }
    auto response = connection->call(request);
    if (connection->healthy()) {
      std::lock_guard lock(m_mutex);
      auto& idle = m_idle[address];
      if (idle.size() < k_max_idle_per_peer) idle.push_back(std::move(connection));
    }
    if (!response && reused &&
        (response.error().code == ExecErrc::k_disconnected || response.error().code == ExecErrc::k_io)) {
      continue;
    }
    return response;
  }
  return Unexpected(ExecError{ExecErrc::k_disconnected, "peer " + address + " keeps closing connections"});
}

std::size_t PeerPool::idle_connections() const {
  std::lock_guard lock(m_mutex);
  std::size_t n = 0;
  for (const auto& [address, list] : m_idle) n += list.size();
  return n;
}

}  // namespace slimcache::agent::exec
