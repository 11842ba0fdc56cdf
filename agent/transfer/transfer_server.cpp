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
  for (std::size_t i = 0; i < server->m_options.max_parallel; ++i) {
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
  auto reply_error = [&](TransferErrc code, const std::string& message) {
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.errors_sent;
    }
    (void)channel.write_all(encode_error_frame(code, message));
    channel.close();
  };
  std::array<std::byte, k_request_size_v2> raw{};
  if (!channel.read_exact(std::span(raw.data(), k_request_size))) return;
  auto size = request_size(std::span(raw.data(), k_request_size));
  if (!size) return reply_error(size.error().code, size.error().message);
  if (*size > k_request_size && !channel.read_exact(std::span(raw.data() + k_request_size, *size - k_request_size))) return;
  auto request = decode_request(std::span(raw.data(), *size));
  if (!request) return reply_error(request.error().code, request.error().message);
  if (request->type == RequestType::k_stat_expert) {
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.stat_requests;
      m_stats.last_ciphersuite = channel.ciphersuite();
    }
    const auto info = m_options.expert_lookup ? m_options.expert_lookup(request->layer, request->expert) : std::nullopt;
    if (!info) {
      return reply_error(TransferErrc::k_not_found, "no expert " + std::to_string(request->layer) + "/" +
                                                        std::to_string(request->expert) + " here");
    }
    if (!channel.write_all(encode_info_frame(*info))) return;
    std::array<std::byte, 1> ignored{};
    (void)channel.read_exact(ignored);  // the client closes first (bounded by the timeout)
    channel.close();
    return;
  }
  {
    std::lock_guard lock(m_stats_mutex);
    ++m_stats.requests;
    m_stats.requested_offsets.push_back(request->offset);
    m_stats.last_ciphersuite = channel.ciphersuite();
  }
  const auto total = m_store.size(request->id);
  if (!total) return reply_error(TransferErrc::k_not_found, "no blob " + request->id.hex());
  if (request->offset > *total || request->length > *total - request->offset) {
    return reply_error(TransferErrc::k_protocol, "range from " + std::to_string(request->offset) + " (length " +
                                                     std::to_string(request->length) + ") is past the blob's size " +
                                                     std::to_string(*total));
  }
  const std::uint64_t end = request->length == 0 ? *total : request->offset + request->length;
  if (!channel.write_all(encode_blob_frame(BlobHeader{*total, request->offset, m_options.chunk_size}, request->version)))
    return;
  // One buffer holds the frame header and the chunk so each chunk is one write.
  std::vector<std::byte> buffer(k_frame_header_size + m_options.chunk_size);
  std::uint64_t offset = request->offset;
  std::uint64_t chunks = 0;
  while (offset < end) {
    if (m_stopping.load()) return channel.abort();
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(m_options.chunk_size, end - offset));
    auto got = m_store.read(request->id, offset, std::span(buffer.data() + k_frame_header_size, want));
    if (!got || *got != want) {
      return reply_error(TransferErrc::k_io, got ? "the blob shrank while being served" : got.error().message);
    }
    const auto head = encode_frame_header(FrameType::k_chunk, static_cast<std::uint32_t>(want));
    std::memcpy(buffer.data(), head.data(), head.size());
    if (m_options.limiter != nullptr) m_options.limiter->acquire(want);
    if (!channel.write_all(std::span(buffer.data(), k_frame_header_size + want))) return;
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
      return channel.abort();
    }
  }
  const auto end_frame = encode_frame_header(FrameType::k_end, 0);
  if (!channel.write_all(end_frame)) return;
  // Wait for the client to close first (bounded by the timeout) so the END is not lost to
  // a reset; a read of 1 byte ends with k_disconnected when it does.
  std::array<std::byte, 1> ignored{};
  (void)channel.read_exact(ignored);
  channel.close();
}

}  // namespace slimcache::agent::transfer
