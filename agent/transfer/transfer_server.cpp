#include "agent/transfer/transfer_server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace slimcache::agent::transfer {

Expected<std::unique_ptr<TransferServer>, TransferError> TransferServer::start(std::shared_ptr<TlsContext> context,
                                                                               BlobStore& store, ServerOptions options) {
  if (context == nullptr || context->role() != TlsRole::k_server) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "the server needs a server TLS context"});
  }
  if (options.max_parallel == 0 || options.chunk_size == 0 || options.chunk_size > k_max_chunk_size_limit) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "max_parallel must be >= 1 and chunk_size in 1..16 MiB"});
  }
  std::unique_ptr<TransferServer> server(new TransferServer(std::move(context), store, std::move(options)));
  SLIM_TRY(server->m_listener, TcpListener::listen(server->m_options.bind_address, server->m_options.port));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Unexpected(TransferError{TransferErrc::k_io, std::string("pipe: ") + std::strerror(errno)});
  }
  server->m_cancel_read = fds[0];
  server->m_cancel_write = fds[1];
  const std::size_t workers = std::max(server->m_options.max_sessions, server->m_options.max_parallel);
  for (std::size_t i = 0; i < workers; ++i) {
    server->m_workers.emplace_back([s = server.get()] { s->worker(); });
  }
  return server;
}

TransferServer::~TransferServer() {
  stop();
  if (m_cancel_read >= 0) ::close(m_cancel_read);
  if (m_cancel_write >= 0) ::close(m_cancel_write);
}

void TransferServer::stop() {
  if (m_stopping.exchange(true)) return;
  const char byte = 1;
  (void)!::write(m_cancel_write, &byte, 1);
  for (auto& t : m_workers) t.join();
  m_workers.clear();
  m_listener.close();
}

ServerStats TransferServer::stats() const {
  std::lock_guard lock(m_stats_mutex);
  return m_stats;
}

void TransferServer::worker() {
  while (!m_stopping.load()) {
    auto socket = m_listener.accept(m_options.io_timeout, m_cancel_read);
    if (!socket) {
      if (socket.error().code == TransferErrc::k_cancelled) return;
      continue;  // timeout or a connection another worker took: wait again
    }
    const std::size_t active = ++m_active;
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.connections;
      m_stats.peak_active = std::max(m_stats.peak_active, active);
    }
    serve(std::move(socket).value());
    --m_active;
  }
}

void TransferServer::serve(TcpSocket socket) {
  auto channel_or = TlsChannel::handshake(m_context, std::move(socket), m_options.io_timeout, m_cancel_read);
  if (!channel_or) {
    std::lock_guard lock(m_stats_mutex);
    ++m_stats.handshake_failures;
    return;
  }
  TlsChannel& channel = **channel_or;
  constexpr std::uint64_t k_max_session_requests = 1u << 20;  // bounds the session loop
  for (std::uint64_t served = 0; served < k_max_session_requests && !m_stopping.load(); ++served) {
    // The first request is due within the I/O timeout; later ones within the idle timeout.
    channel.set_io(served == 0 ? m_options.io_timeout : m_options.session_idle_timeout, m_cancel_read);
    std::array<std::byte, k_request_size_v2> raw{};
    const bool got = channel.read_exact(std::span(raw.data(), k_request_size)).has_value();
    channel.set_io(m_options.io_timeout, m_cancel_read);
    if (!got) return channel.close();  // the client ended the session (or went idle)
    if (served > 0) {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.session_reuses;
    }
    auto reply_error = [&](const TransferError& error) {
      {
        std::lock_guard lock(m_stats_mutex);
        ++m_stats.errors_sent;
      }
      (void)channel.write_all(encode_error_frame(error.code, error.message));
      channel.close();
    };
    auto size = request_size(std::span(raw.data(), k_request_size));
    if (!size) return reply_error(size.error());
    if (*size > k_request_size && !channel.read_exact(std::span(raw.data() + k_request_size, *size - k_request_size)))
      return;
    auto request = decode_request(std::span(raw.data(), *size));
    if (!request) return reply_error(request.error());
    if (request->version > m_options.max_version) {
      return reply_error(TransferError{TransferErrc::k_unsupported_version,
                                       "protocol version " + std::to_string(request->version) + " (this node speaks up to " +
                                           std::to_string(m_options.max_version) + ")"});
    }
    if (answer(channel, *request) == Next::k_end) return;
  }
  channel.close();
}

TransferServer::Next TransferServer::answer(TlsChannel& channel, const GetRequest& request) {
  const bool session = request.version >= k_protocol_version_3;
  // Versions 1 and 2: wait for the client to close first (bounded by the timeout) so the
  // answer is not lost to a reset; a read of 1 byte ends with k_disconnected when it does.
  auto finish = [&]() -> Next {
    if (session) return Next::k_more;
    std::array<std::byte, 1> ignored{};
    (void)channel.read_exact(ignored);
    channel.close();
    return Next::k_end;
  };
  auto reply_error = [&](TransferErrc code, const std::string& message) -> Next {
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.errors_sent;
    }
    if (!channel.write_all(encode_error_frame(code, message))) return Next::k_end;
    // A session survives a miss; any other error ends the connection.
    if (session && code == TransferErrc::k_not_found) return Next::k_more;
    channel.close();
    return Next::k_end;
  };
  if (request.type == RequestType::k_stat_expert) {
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.stat_requests;
      m_stats.last_ciphersuite = channel.ciphersuite();
    }
    const auto info = m_options.expert_lookup ? m_options.expert_lookup(request.layer, request.expert) : std::nullopt;
    if (!info) {
      return reply_error(TransferErrc::k_not_found, "no expert " + std::to_string(request.layer) + "/" +
                                                        std::to_string(request.expert) + " here");
    }
    if (!channel.write_all(encode_info_frame(*info))) return Next::k_end;
    return finish();
  }
  {
    std::lock_guard lock(m_stats_mutex);
    ++m_stats.requests;
    m_stats.requested_offsets.push_back(request.offset);
    m_stats.last_ciphersuite = channel.ciphersuite();
  }
  const auto total = m_store.size(request.id);
  if (!total) return reply_error(TransferErrc::k_not_found, "no blob " + request.id.hex());
  if (request.offset > *total || request.length > *total - request.offset) {
    return reply_error(TransferErrc::k_protocol, "range from " + std::to_string(request.offset) + " (length " +
                                                     std::to_string(request.length) + ") is past the blob's size " +
                                                     std::to_string(*total));
  }
  const std::uint64_t end = request.length == 0 ? *total : request.offset + request.length;
  // One buffer holds the BLOB frame, or a CHUNK frame header and its bytes, so each is one
  // TLS write; a blob that fits one chunk goes out with its BLOB and END in one write.
  const auto blob_frame = encode_blob_frame(BlobHeader{*total, request.offset, m_options.chunk_size}, request.version);
  const auto end_frame = encode_frame_header(FrameType::k_end, 0);
  const bool single = end - request.offset <= m_options.chunk_size && end > request.offset;
  std::vector<std::byte> buffer(blob_frame.size() + k_frame_header_size + m_options.chunk_size + end_frame.size());
  std::uint64_t offset = request.offset;
  std::uint64_t chunks = 0;
  std::size_t lead = 0;  // bytes before the chunk header in the buffer (the BLOB frame, once)
  if (single) {
    std::memcpy(buffer.data(), blob_frame.data(), blob_frame.size());
    lead = blob_frame.size();
  } else if (!channel.write_all(blob_frame)) {
    return Next::k_end;
  }
  while (offset < end) {
    if (m_stopping.load()) {
      channel.abort();
      return Next::k_end;
    }
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(m_options.chunk_size, end - offset));
    std::byte* chunk_at = buffer.data() + lead;
    auto got = m_store.read(request.id, offset, std::span(chunk_at + k_frame_header_size, want));
    if (!got || *got != want) {
      return reply_error(TransferErrc::k_io, got ? "the blob shrank while being served" : got.error().message);
    }
    const auto head = encode_frame_header(FrameType::k_chunk, static_cast<std::uint32_t>(want));
    std::memcpy(chunk_at, head.data(), head.size());
    std::size_t frame_bytes = lead + k_frame_header_size + want;
    if (single) {
      std::memcpy(buffer.data() + frame_bytes, end_frame.data(), end_frame.size());
      frame_bytes += end_frame.size();
    }
    if (m_options.limiter != nullptr) m_options.limiter->acquire(want);
    if (!channel.write_all(std::span(buffer.data(), frame_bytes))) return Next::k_end;
    lead = 0;
    offset += want;
    ++chunks;
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.chunks_sent;
      m_stats.bytes_sent += want;
    }
    if (m_options.cut_after_chunks != 0 && chunks == m_options.cut_after_chunks && offset < end) {
      {
        std::lock_guard lock(m_stats_mutex);
        ++m_stats.cut_connections;
      }
      channel.abort();
      return Next::k_end;
    }
  }
  if (!single || end == request.offset) {
    if (!channel.write_all(end_frame)) return Next::k_end;
  }
  return finish();
}

}  // namespace slimcache::agent::transfer
