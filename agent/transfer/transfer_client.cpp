#include "agent/transfer/transfer_client.hpp"

#include <vector>

namespace slimcache::agent::transfer {

TransferClient::TransferClient(std::shared_ptr<TlsContext> context, BlobStore& store, ClientOptions options)
    : m_context(std::move(context)), m_store(store), m_options(std::move(options)) {}

ClientStats TransferClient::stats() const {
  return ClientStats{m_fetches.load(), m_completed.load(), m_failed.load(), m_verify_failures.load(), m_resumed.load(),
                     m_bytes.load()};
}

Expected<FetchResult, TransferError> TransferClient::fetch(const Endpoint& peer, const BlobId& id, int cancel_fd) {
  ++m_fetches;
  FetchResult result;
  if (auto size = m_store.size(id)) {
    result.size = *size;
    result.already_present = true;
    ++m_completed;
    return result;
  }
  for (int round = 0; round < 2; ++round) {  // at most one restart
    auto outcome = attempt(peer, id, cancel_fd, round == 1, result);
    if (!outcome) {
      ++m_failed;
      if (outcome.error().code == TransferErrc::k_verify_failed) ++m_verify_failures;
      return Unexpected(std::move(outcome).error());
    }
    if (*outcome == Attempt::k_done) {
      ++m_completed;
      if (result.resumed_from > 0) ++m_resumed;
      return result;
    }
  }
  ++m_failed;
  return Unexpected(TransferError{TransferErrc::k_protocol, "the store kept changing its resume offset"});
}

Expected<TransferClient::Attempt, TransferError> TransferClient::attempt(const Endpoint& peer, const BlobId& id,
                                                                         int cancel_fd, bool last,
                                                                         FetchResult& result) {
  const std::uint64_t offset = m_store.partial_size(id);
  SLIM_TRY(TcpSocket socket, connect_tcp(peer.host, peer.port, m_options.io_timeout));
  SLIM_TRY(auto channel, TlsChannel::handshake(m_context, std::move(socket), m_options.io_timeout, cancel_fd));
  result.ciphersuite = channel->ciphersuite();
  SLIM_TRY_VOID(channel->write_all(encode_request(GetRequest{k_protocol_version, id, offset})));

  std::array<std::byte, k_frame_header_size> head_bytes{};
  SLIM_TRY_VOID(channel->read_exact(head_bytes));
  SLIM_TRY(FrameHeader head, decode_frame_header(head_bytes, m_options.limits));
  if (head.type == FrameType::k_error) {
    std::vector<std::byte> body(head.length);
    SLIM_TRY_VOID(channel->read_exact(body));
    SLIM_TRY(ErrorBody error, decode_error_body(body));
    channel->close();
    return Unexpected(TransferError{error.code, "peer " + peer.to_string() + ": " + error.message});
  }
  if (head.type != FrameType::k_blob) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "peer " + peer.to_string() + " did not start with BLOB"});
  }
  std::array<std::byte, k_blob_body_size> blob_body{};
  SLIM_TRY_VOID(channel->read_exact(blob_body));
  SLIM_TRY(BlobHeader blob, decode_blob_body(blob_body, m_options.limits));
  if (blob.offset != offset) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "peer answered from offset " + std::to_string(blob.offset) +
                                                                  ", asked " + std::to_string(offset)});
  }
  SLIM_TRY(const std::uint64_t resume, m_store.begin(id, blob.total_size));
  if (resume != offset) {
    // The store dropped a partial of another size: ask again from its offset.
    m_store.abort(id, PartialMode::k_keep);
    channel->abort();
    if (last) return Unexpected(TransferError{TransferErrc::k_protocol, "resume offset changed twice"});
    return Attempt::k_restart;
  }
  result.size = blob.total_size;
  result.resumed_from = offset;
  auto fail = [&](TransferError error) -> Expected<Attempt, TransferError> {
    m_store.abort(id, PartialMode::k_keep);
    channel->abort();
    return Unexpected(std::move(error));
  };
  std::vector<std::byte> buffer;
  std::uint64_t position = offset;
  // Bounded: every CHUNK advances position by >= 1 byte toward total_size (checked below).
  for (;;) {
    if (auto r = channel->read_exact(head_bytes); !r) return fail(r.error());
    auto frame = decode_frame_header(head_bytes, m_options.limits);
    if (!frame) return fail(frame.error());
    if (frame->type == FrameType::k_end) break;
    if (frame->type == FrameType::k_error) {
      buffer.resize(frame->length);
      if (auto r = channel->read_exact(buffer); !r) return fail(r.error());
      auto error = decode_error_body(buffer);
      if (!error) return fail(error.error());
      return fail(TransferError{error->code, "peer " + peer.to_string() + ": " + error->message});
    }
    if (frame->type != FrameType::k_chunk) return fail(TransferError{TransferErrc::k_protocol, "unexpected frame"});
    if (frame->length > blob.total_size - position) {
      return fail(TransferError{TransferErrc::k_protocol, "peer sent more bytes than the blob's size"});
    }
    buffer.resize(frame->length);
    if (auto r = channel->read_exact(buffer); !r) return fail(r.error());
    if (m_options.limiter != nullptr) m_options.limiter->acquire(buffer.size());
    if (auto r = m_store.append(id, buffer); !r) return fail(r.error());
    position += buffer.size();
    result.bytes_received += buffer.size();
    m_bytes += buffer.size();
  }
  if (position != blob.total_size) {
    return fail(TransferError{TransferErrc::k_protocol, "peer ended at " + std::to_string(position) + " of " +
                                                            std::to_string(blob.total_size) + " bytes"});
  }
  auto finished = m_store.finish(id);
  channel->close();
  if (!finished) return Unexpected(std::move(finished).error());
  return Attempt::k_done;
}

}  // namespace slimcache::agent::transfer
