#include "agent/admin/admin_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

namespace slimcache::agent::admin {

using stream = asio::local::stream_protocol;

// One client connection: reads frames, runs one request at a time, queues writes so that
// only one is in flight (Asio chat_server pattern).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(AdminServer& server, stream::socket socket)
      : m_server(&server), m_socket(std::move(socket)), m_timer(m_socket.get_executor()) {}

  void start(const PeerCredentials& peer) {
    m_peer = peer;
    arm_timer();
    do_read();
  }

  void refuse(ErrorCode code, const std::string& message) {
    Response r;
    r.kind = Response::Kind::k_error;
    r.error = {code, message};
    m_closing_after_write = true;
    send(encode_response(r));
  }

  void answer(const Response& r) {
    if (!m_socket.is_open()) return;
    send(encode_response(r));
    if (r.kind != Response::Kind::k_progress) {
      m_busy = false;
      arm_timer();
      pump();
    }
  }

  void close() {
    asio::error_code ignored;
    m_timer.cancel();
    m_socket.close(ignored);
    if (m_server != nullptr) m_server->m_sessions.erase(this);
    m_server = nullptr;
  }

  void detach() { m_server = nullptr; }

 private:
  void arm_timer() {
    if (m_server == nullptr) return;
    m_timer.expires_after(m_server->m_options.idle_timeout);
    m_timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      if (!self->m_busy) self->close();
    });
  }

  void do_read() {
    m_socket.async_read_some(asio::buffer(m_read_buf),
                             [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                               if (ec) {
                                 self->close();
                                 return;
                               }
                               self->on_bytes(n);
                             });
  }

  void on_bytes(std::size_t n) {
    if (auto fed = m_reader.feed({m_read_buf.data(), n}); !fed) {
      if (m_server != nullptr) ++m_server->m_counters.bad_requests;
      refuse(fed.error().code, fed.error().message);
      return;
    }
    while (auto body = m_reader.next()) m_pending.push_back(std::move(*body));
    pump();
    if (m_socket.is_open() && !m_closing_after_write) do_read();
  }

  // Runs the next queued request when none is in flight.
  void pump() {
    while (!m_busy && !m_pending.empty() && m_server != nullptr && m_socket.is_open()) {
      std::string body = std::move(m_pending.front());
      m_pending.pop_front();
      auto request = decode_request(body);
      if (!request) {
        ++m_server->m_counters.bad_requests;
        Response r;
        r.kind = Response::Kind::k_error;
        r.error = request.error();
        send(encode_response(r));
        continue;
      }
      ++m_server->m_counters.requests;
      m_busy = true;
      m_timer.cancel();
      m_server->dispatch(shared_from_this(), *request);
    }
  }

  void send(std::vector<std::uint8_t> bytes) {
    m_out.push_back(std::move(bytes));
    if (m_out.size() == 1) do_write();
  }

  void do_write() {
    asio::async_write(m_socket, asio::buffer(m_out.front()),
                      [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                        if (ec) {
                          self->close();
                          return;
                        }
                        self->m_out.pop_front();
                        if (!self->m_out.empty()) {
                          self->do_write();
                        } else if (self->m_closing_after_write) {
                          asio::error_code ignored;
                          self->m_socket.shutdown(stream::socket::shutdown_both, ignored);
                          self->close();
                        }
                      });
  }

  friend class AdminServer;
  AdminServer* m_server;
  stream::socket m_socket;
  asio::steady_timer m_timer;
  PeerCredentials m_peer;
  std::array<std::uint8_t, 4096> m_read_buf{};
  FrameReader m_reader;
  std::deque<std::string> m_pending;
  std::deque<std::vector<std::uint8_t>> m_out;
  bool m_busy = false;
  bool m_closing_after_write = false;
};

Reply::Reply(std::shared_ptr<Session> session, std::uint64_t id) : m_session(std::move(session)), m_id(id) {}

void Reply::progress(const nlohmann::json& progress) const {
  Response r;
  r.id = m_id;
  r.kind = Response::Kind::k_progress;
  r.body = progress;
  m_session->answer(r);
}

void Reply::result(const nlohmann::json& result) const {
  Response r;
  r.id = m_id;
  r.kind = Response::Kind::k_result;
  r.body = result;
  m_session->answer(r);
}

void Reply::fail(ErrorCode code, const std::string& message) const {
  Response r;
  r.id = m_id;
  r.kind = Response::Kind::k_error;
  r.error = {code, message};
  m_session->answer(r);
}

AdminServer::AdminServer(asio::io_context& io, Options options, AccessPolicy policy)
    : m_io(io), m_options(std::move(options)), m_policy(policy), m_acceptor(io) {}

AdminServer::~AdminServer() { stop(); }

namespace {

Unexpected<Error> os_error(const std::string& what, int err) {
  return Unexpected(Error{ErrorCode::k_failed, what + ": " + std::strerror(err)});
}

// True when something accepts connections on the socket file at `path`.
bool socket_is_live(asio::io_context& io, const std::string& path) {
  stream::socket probe(io);
  asio::error_code ec;
  probe.connect(stream::endpoint(path), ec);
  return !ec;
}

}  // namespace

Expected<void, Error> AdminServer::start() {
  const std::string& path = m_options.path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
    return Unexpected(Error{ErrorCode::k_bad_arguments, "admin socket path '" + path + "' is empty or too long"});
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Unexpected(Error{ErrorCode::k_failed, path + " exists and is not a socket; refusing to replace it"});
    if (socket_is_live(m_io, path))
      return Unexpected(Error{ErrorCode::k_failed, "another daemon is already serving " + path});
    if (::unlink(path.c_str()) != 0) return os_error("cannot remove stale socket " + path, errno);
  }
  asio::error_code ec;
  m_acceptor.open(stream(), ec);
  if (!ec) m_acceptor.bind(stream::endpoint(path), ec);
  if (ec) return Unexpected(Error{ErrorCode::k_failed, "cannot bind " + path + ": " + ec.message()});
  if (::chmod(path.c_str(), m_options.mode) != 0) return os_error("cannot chmod " + path, errno);
  if (m_options.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *m_options.group) != 0)
    return os_error("cannot set the group of " + path, errno);
  m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unexpected(Error{ErrorCode::k_failed, "cannot listen on " + path + ": " + ec.message()});
  m_started = true;
  do_accept();
  return {};
}

void AdminServer::stop() {
  if (!m_started) return;
  m_started = false;
  asio::error_code ignored;
  m_acceptor.close(ignored);
  auto sessions = m_sessions;
  for (auto& [raw, weak] : sessions) {
    if (auto s = weak.lock()) s->close();
  }
  m_sessions.clear();
  ::unlink(m_options.path.c_str());
}

void AdminServer::add_command(const std::string& name, Handler handler) { m_handlers[name] = std::move(handler); }

std::size_t AdminServer::open_connections() const { return m_sessions.size(); }

void AdminServer::do_accept() {
  m_acceptor.async_accept([this](const asio::error_code& ec, stream::socket socket) {
    if (ec == asio::error::operation_aborted || !m_started) return;
    if (!ec) {
      ++m_counters.connections;
      auto session = std::make_shared<Session>(*this, std::move(socket));
      const auto peer = peer_credentials(session->m_socket.native_handle());
      if (!peer || !is_allowed(*peer, m_policy)) {
        ++m_counters.refused_credentials;
        session->detach();
        session->refuse(ErrorCode::k_permission_denied,
                        peer ? "uid " + std::to_string(peer->uid) + " is not allowed to administer slimcached"
                             : "peer credentials unavailable");
      } else if (m_sessions.size() >= m_options.max_connections) {
        ++m_counters.refused_busy;
        session->detach();
        session->refuse(ErrorCode::k_busy, "too many admin connections");
      } else {
        m_sessions[session.get()] = session;
        session->start(*peer);
      }
    }
    do_accept();
  });
}

void AdminServer::dispatch(const std::shared_ptr<Session>& session, const Request& request) {
  Reply reply(session, request.id);
  if (request.version > k_protocol_version) {
    reply.fail(ErrorCode::k_unsupported_version,
               "client speaks protocol " + std::to_string(request.version) + ", this daemon " +
                   std::to_string(k_protocol_version));
    return;
  }
  if (request.cmd == "commands") {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& [name, handler] : m_handlers) names.push_back(name);
    reply.result({{"commands", names}});
    return;
  }
  const auto it = m_handlers.find(request.cmd);
  if (it == m_handlers.end()) {
    reply.fail(ErrorCode::k_unknown_command, "unknown command '" + request.cmd + "'");
    return;
  }
  it->second(request, session->m_peer, reply);
}

}  // namespace slimcache::agent::admin
