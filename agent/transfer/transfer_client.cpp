#include "agent/transfer/transfer_client.hpp"

#include <functional>
#include <thread>
#include <vector>

namespace slimcache::agent::transfer {
namespace {

// A partial is kept for a later resume, except when the file system is full: keeping it
// would hold the space until an operator freed some.
PartialMode partial_mode_after(const TransferError& error) {
  return error.code == TransferErrc::k_no_space ? PartialMode::k_discard : PartialMode::k_keep;
}

}  // namespace

TransferClient::TransferClient(std::shared_ptr<TlsContext> context, BlobStore& store, ClientOptions options)
    : m_context(std::move(context)), m_store(store), m_options(std::move(options)) {}

TransferClient::~TransferClient() { drop_sessions(); }

ClientStats TransferClient::stats() const {
  return ClientStats{m_fetches.load(),   m_completed.load(), m_failed.load(),      m_verify_failures.load(),
                     m_resumed.load(),   m_bytes.load(),     m_connections.load(), m_session_reuses.load()};
}

void TransferClient::drop_sessions() {
  std::map<std::string, std::vector<std::unique_ptr<TlsChannel>>> idle;
  {
    std::lock_guard lock(m_pool_mutex);
    idle.swap(m_idle);
  }
  for (auto& [peer, channels] : idle)
    for (auto& channel : channels) channel->close();
}

Expected<std::unique_ptr<TlsChannel>, TransferError> TransferClient::connect(const Endpoint& peer, int cancel_fd) {
  SLIM_TRY(TcpSocket socket, connect_tcp(peer.host, peer.port, m_options.io_timeout));
  ++m_connections;
  return TlsChannel::handshake(m_context, std::move(socket), m_options.io_timeout, cancel_fd);
}

Expected<TransferClient::Opened, TransferError> TransferClient::open_request(const Endpoint& peer, GetRequest request,
                                                                             int cancel_fd) {
  const std::string key = peer.to_string();
  bool legacy = m_options.sessions == SessionMode::k_one_per_request;
  if (!legacy) {
    std::lock_guard lock(m_pool_mutex);
    legacy = m_legacy.contains(key);
  }
  std::array<std::byte, k_frame_header_size> head_bytes{};
  if (!legacy) {
    GetRequest v3 = request;
    v3.version = k_protocol_version_3;
    const auto bytes = encode_request(v3);
    // At most two tries: a pooled connection (if any), then a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<TlsChannel> channel;
      if (attempt == 0) {
        std::lock_guard lock(m_pool_mutex);
        auto& idle = m_idle[key];
        // Bounded: each step pops one pooled connection.
        while (!idle.empty() && channel == nullptr) {
          channel = std::move(idle.back());
          idle.pop_back();
          if (!channel->reusable()) {
            channel->abort();
            channel.reset();
          }
        }
      }
      const bool reused = channel != nullptr;
      if (reused) {
        channel->set_io(m_options.io_timeout, cancel_fd);
        ++m_session_reuses;
      } else {
        attempt = 1;
        SLIM_TRY(channel, connect(peer, cancel_fd));
      }
      auto sent = channel->write_all(bytes);
      if (sent) sent = channel->read_exact(head_bytes);
      if (!sent) {
        channel->abort();
        if (reused && sent.error().code == TransferErrc::k_disconnected) continue;  // the peer closed it meanwhile
        return Unexpected(std::move(sent).error());
      }
      SLIM_TRY(FrameHeader head, decode_frame_header(head_bytes, m_options.limits));
      if (head.type == FrameType::k_error && !reused) {
        // A peer of versions 1 and 2 refuses version 3: remember it and ask the old way.
        std::vector<std::byte> body(head.length);
        if (auto r = channel->read_exact(body); !r) return Unexpected(r.error());
        SLIM_TRY(ErrorBody error, decode_error_body(body));
        if (error.code != TransferErrc::k_unsupported_version) {
          Opened missed{std::move(channel), head, error.code == TransferErrc::k_not_found};
          release(peer, missed);  // a session survives a miss
          return Unexpected(TransferError{error.code, "peer " + key + ": " + error.message});
        }
        channel->close();
        std::lock_guard lock(m_pool_mutex);
        m_legacy.insert(key);
        break;
      }
      return Opened{std::move(channel), head, true};
    }
    std::lock_guard lock(m_pool_mutex);
    if (!m_legacy.contains(key)) {
      return Unexpected(TransferError{TransferErrc::k_disconnected, "peer " + key + " closed a fresh connection"});
    }
  }
  if (request.version >= k_protocol_version_3) request.version = k_protocol_version_2;
  SLIM_TRY(auto channel, connect(peer, cancel_fd));
  SLIM_TRY_VOID(channel->write_all(encode_request(request)));
  SLIM_TRY_VOID(channel->read_exact(head_bytes));
  SLIM_TRY(FrameHeader head, decode_frame_header(head_bytes, m_options.limits));
  return Opened{std::move(channel), head, false};
}

void TransferClient::release(const Endpoint& peer, Opened& opened) {
  if (opened.channel == nullptr) return;
  if (opened.session) {
    std::lock_guard lock(m_pool_mutex);
    if (++m_releases % 256 == 0) {
      // Now and then, drop pooled connections their peers closed (peers that left keep no
      // descriptors open here for long).
      for (auto& [other, channels] : m_idle)
        std::erase_if(channels, [](const std::unique_ptr<TlsChannel>& c) { return !c->reusable(); });
    }
    auto& idle = m_idle[peer.to_string()];
    if (idle.size() < m_options.max_idle_sessions) {
      idle.push_back(std::move(opened.channel));
      return;
    }
  }
  opened.channel->close();
  opened.channel.reset();
}

Expected<FetchResult, TransferError> TransferClient::fetch(const Endpoint& peer, const BlobId& id, int cancel_fd,
                                                          std::uint64_t size_hint) {
  ++m_fetches;
  FetchResult result;
  if (auto size = m_store.size(id)) {
    result.size = *size;
    result.already_present = true;
    ++m_completed;
    return result;
  }
  const std::uint64_t held = m_store.partial_size(id);
  if (m_options.stripes > 1 && size_hint > held &&
      size_hint - held >= m_options.stripes * std::max<std::uint64_t>(m_options.min_stripe_bytes, 1)) {
    auto outcome = striped(peer, id, cancel_fd, size_hint, result);
    if (outcome) {
      ++m_completed;
      if (result.resumed_from > 0) ++m_resumed;
      return result;
    }
    // An older peer (protocol version 1 only) gets the plain fetch below.
    if (outcome.error().code != TransferErrc::k_unsupported_version) {
      ++m_failed;
      if (outcome.error().code == TransferErrc::k_verify_failed) ++m_verify_failures;
      return Unexpected(std::move(outcome).error());
    }
    result = FetchResult{};
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
  SLIM_TRY(Opened opened, open_request(peer, GetRequest{k_protocol_version, id, offset}, cancel_fd));
  TlsChannel* channel = opened.channel.get();
  result.ciphersuite = channel->ciphersuite();
  std::array<std::byte, k_frame_header_size> head_bytes{};
  const FrameHeader head = opened.head;
  if (head.type == FrameType::k_error) {
    std::vector<std::byte> body(head.length);
    SLIM_TRY_VOID(channel->read_exact(body));
    SLIM_TRY(ErrorBody error, decode_error_body(body));
    if (error.code == TransferErrc::k_not_found) {
      release(peer, opened);
    } else {
      channel->close();
    }
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
    m_store.abort(id, partial_mode_after(error));
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
  release(peer, opened);
  auto finished = m_store.finish(id);
  if (!finished) return Unexpected(std::move(finished).error());
  return Attempt::k_done;
}

namespace {

using Sink = std::function<Expected<void, TransferError>(std::span<const std::byte>)>;

// Reads an ERROR body after its header and turns it into the error to return.
TransferError peer_error(TlsChannel& channel, const FrameHeader& head, const Endpoint& peer) {
  std::vector<std::byte> body(head.length);
  if (auto r = channel.read_exact(body); !r) return r.error();
  auto error = decode_error_body(body);
  if (!error) return error.error();
  return TransferError{error->code, "peer " + peer.to_string() + ": " + error->message};
}

// Reads CHUNKs up to `end`, then END, handing the bytes to `sink`.
Expected<std::uint64_t, TransferError> pump(TlsChannel& channel, const Endpoint& peer, std::uint64_t position,
                                            std::uint64_t end, const ClientOptions& options, const Sink& sink) {
  std::array<std::byte, k_frame_header_size> head_bytes{};
  std::vector<std::byte> buffer;
  std::uint64_t received = 0;
  // Bounded: every CHUNK advances position by >= 1 byte toward `end` (checked below).
  for (;;) {
    SLIM_TRY_VOID(channel.read_exact(head_bytes));
    SLIM_TRY(FrameHeader frame, decode_frame_header(head_bytes, options.limits));
    if (frame.type == FrameType::k_end) break;
    if (frame.type == FrameType::k_error) return Unexpected(peer_error(channel, frame, peer));
    if (frame.type != FrameType::k_chunk) return Unexpected(TransferError{TransferErrc::k_protocol, "unexpected frame"});
    if (frame.length > end - position) {
      return Unexpected(TransferError{TransferErrc::k_protocol, "peer sent more bytes than the range"});
    }
    buffer.resize(frame.length);
    SLIM_TRY_VOID(channel.read_exact(buffer));
    if (options.limiter != nullptr) options.limiter->acquire(buffer.size());
    SLIM_TRY_VOID(sink(buffer));
    position += buffer.size();
    received += buffer.size();
  }
  if (position != end) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "peer ended at " + std::to_string(position) + " of " +
                                                                  std::to_string(end) + " bytes"});
  }
  return received;
}

}  // namespace

// GET (version 2 or 3) of [offset, offset + length); checks the BLOB answer against `size`.
Expected<TransferClient::Opened, TransferError> TransferClient::open_range(const Endpoint& peer, const BlobId& id,
                                                                           std::uint64_t offset, std::uint64_t length,
                                                                           std::uint64_t size, int cancel_fd) {
  SLIM_TRY(Opened opened, open_request(peer, GetRequest{k_protocol_version_2, id, offset, length}, cancel_fd));
  TlsChannel& channel = *opened.channel;
  if (opened.head.type == FrameType::k_error) {
    auto error = peer_error(channel, opened.head, peer);
    channel.close();
    return Unexpected(std::move(error));
  }
  if (opened.head.type != FrameType::k_blob) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "peer " + peer.to_string() + " did not start with BLOB"});
  }
  std::array<std::byte, k_blob_body_size> body{};
  SLIM_TRY_VOID(channel.read_exact(body));
  SLIM_TRY(BlobHeader blob, decode_blob_body(body, m_options.limits));
  if (blob.offset != offset || blob.total_size != size) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "peer " + peer.to_string() + " answered another range"});
  }
  return opened;
}

Expected<void, TransferError> TransferClient::striped(const Endpoint& peer, const BlobId& id, int cancel_fd,
                                                      std::uint64_t size, FetchResult& result) {
  SLIM_TRY(const std::uint64_t offset, m_store.begin(id, size));  // the write stays open until finish/abort
  const std::uint64_t remaining = size - offset;
  const std::size_t n = m_options.stripes;
  std::vector<std::uint64_t> bounds(n + 1);
  for (std::size_t i = 0; i <= n; ++i) bounds[i] = offset + remaining * i / n;

  // Ranges 1..n-1 on their own threads, into memory.
  std::vector<std::vector<std::byte>> held(n);
  std::vector<Expected<std::uint64_t, TransferError>> outcomes(n, std::uint64_t{0});
  std::vector<std::string> suites(n);
  auto run_range = [&](std::size_t i, const Sink& sink) -> Expected<std::uint64_t, TransferError> {
    SLIM_TRY(Opened range, open_range(peer, id, bounds[i], bounds[i + 1] - bounds[i], size, cancel_fd));
    suites[i] = range.channel->ciphersuite();
    auto got = pump(*range.channel, peer, bounds[i], bounds[i + 1], m_options, sink);
    if (!got) {
      range.channel->abort();
      return got;
    }
    release(peer, range);
    return got;
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < n; ++i) {
    held[i].reserve(static_cast<std::size_t>(bounds[i + 1] - bounds[i]));
    threads.emplace_back([&, i] {
      outcomes[i] = run_range(i, [&held, i](std::span<const std::byte> bytes) -> Expected<void, TransferError> {
        held[i].insert(held[i].end(), bytes.begin(), bytes.end());
        return {};
      });
    });
  }
  // Range 0 straight into the store.
  outcomes[0] = run_range(0, [this, &id](std::span<const std::byte> bytes) { return m_store.append(id, bytes); });
  for (auto& t : threads) t.join();
  std::uint64_t received = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!outcomes[i]) {
      m_store.abort(id, partial_mode_after(outcomes[i].error()));
      return Unexpected(outcomes[i].error());
    }
    received += *outcomes[i];
  }
  for (std::size_t i = 1; i < n; ++i) {
    if (auto r = m_store.append(id, held[i]); !r) {
      m_store.abort(id, partial_mode_after(r.error()));
      return r;
    }
    std::vector<std::byte>().swap(held[i]);
  }
  SLIM_TRY_VOID(m_store.finish(id));
  result.size = size;
  result.resumed_from = offset;
  result.bytes_received = received;
  result.ciphersuite = suites[0];
  result.stripes = n;
  m_bytes += received;
  return {};
}

Expected<InfoBody, TransferError> TransferClient::stat_expert(const Endpoint& peer, std::uint32_t layer,
                                                              std::uint32_t expert, int cancel_fd) {
  GetRequest request;
  request.version = k_protocol_version_2;
  request.type = RequestType::k_stat_expert;
  request.layer = layer;
  request.expert = expert;
  SLIM_TRY(Opened opened, open_request(peer, request, cancel_fd));
  TlsChannel& channel = *opened.channel;
  if (opened.head.type == FrameType::k_error) {
    auto error = peer_error(channel, opened.head, peer);
    if (error.code == TransferErrc::k_not_found) {
      release(peer, opened);  // a session survives a miss
    } else {
      channel.close();
    }
    return Unexpected(std::move(error));
  }
  if (opened.head.type != FrameType::k_info) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "peer " + peer.to_string() + " did not answer with INFO"});
  }
  std::array<std::byte, k_info_body_size> body{};
  SLIM_TRY_VOID(channel.read_exact(body));
  SLIM_TRY(InfoBody info, decode_info_body(body, m_options.limits));
  release(peer, opened);
  return info;
}

}  // namespace slimcache::agent::transfer
