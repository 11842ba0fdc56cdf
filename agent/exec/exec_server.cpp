#include "agent/exec/exec_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace slimcache::agent::exec {
namespace {

Unexpected<ExecError> fail(ExecErrc code, std::string message) { return Unexpected(ExecError{code, std::move(message)}); }

Unexpected<ErrorMessage> refuse(const ExecuteRequest& q, ExecWireError code, std::string message) {
  return Unexpected(ErrorMessage{q.request_id, code, std::move(message)});
}

Expected<int, ExecError> listen_unix(const std::string& path, unsigned mode) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return fail(ExecErrc::k_invalid_argument, "socket path too long: " + path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  // A live socket belongs to another daemon; a stale file (nobody listening) is replaced.
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    const bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(probe);
    if (live) return fail(ExecErrc::k_io, path + ": another server is listening there");
  }
  ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(ExecErrc::k_io, std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::chmod(path.c_str(), mode) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(ExecErrc::k_io, "listen " + path + ": " + std::strerror(err));
  }
  return fd;
}

void send_error(ExecStream& stream, const ErrorMessage& error) { (void)stream.write_all(encode_error(error)); }

}  // namespace

ExecServer::ExecServer(ExpertSource& source, ExecServerOptions options)
    : m_source(source), m_options(std::move(options)) {}

Expected<std::unique_ptr<ExecServer>, ExecError> ExecServer::start(ExpertSource& source, ExecServerOptions options) {
  std::unique_ptr<ExecServer> server(new ExecServer(source, std::move(options)));
  auto& o = server->m_options;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return fail(ExecErrc::k_io, std::string("pipe: ") + std::strerror(errno));
  server->m_cancel_read = fds[0];
  server->m_cancel_write = fds[1];
  if (o.kernel_threads > 1) server->m_kernel_threads = std::make_unique<RowThreads>(o.kernel_threads);
  if (o.tls_client) server->m_peers = std::make_unique<PeerPool>(o.tls_client, o.forward_timeout);
  if (o.tls_server) {
    auto listener = transfer::TcpListener::listen(o.tcp_bind, o.tcp_port);
    if (!listener) return fail(ExecErrc::k_io, "execution port " + o.tcp_bind + ":" + std::to_string(o.tcp_port) + ": " +
                                                   listener.error().message);
    server->m_tcp.emplace(std::move(listener).value());
  }
  if (!o.unix_path.empty()) {
    SLIM_TRY(server->m_unix_fd, listen_unix(o.unix_path, o.unix_mode));
  }
  ExecServer* self = server.get();
  if (server->m_tcp) server->m_tcp_thread = std::thread([self] { self->tcp_accept_loop(); });
  if (server->m_unix_fd >= 0) server->m_unix_thread = std::thread([self] { self->unix_accept_loop(); });
  return server;
}

ExecServer::~ExecServer() {
  stop();
  if (m_cancel_read >= 0) ::close(m_cancel_read);
  if (m_cancel_write >= 0) ::close(m_cancel_write);
}

void ExecServer::stop() {
  if (m_stopped.exchange(true)) return;
  const char byte = 1;
  (void)!::write(m_cancel_write, &byte, 1);
  if (m_unix_thread.joinable()) m_unix_thread.join();
  if (m_tcp_thread.joinable()) m_tcp_thread.join();
  std::list<Connection> connections;
  {
    std::lock_guard lock(m_mutex);
    connections.swap(m_connections);
  }
  for (auto& c : connections) c.thread.join();
  if (m_unix_fd >= 0) {
    ::close(m_unix_fd);
    ::unlink(m_options.unix_path.c_str());
    m_unix_fd = -1;
  }
  if (m_tcp) m_tcp->close();
}

ExecStats ExecServer::stats() const {
  std::lock_guard lock(m_stats_mutex);
  return m_stats;
}

void ExecServer::reap() {
  std::lock_guard lock(m_mutex);
  for (auto it = m_connections.begin(); it != m_connections.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = m_connections.erase(it);
    } else {
      ++it;
    }
  }
}

void ExecServer::spawn(std::function<void()> body) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(m_mutex);
  m_connections.push_back({std::thread([body = std::move(body), done] {
                             body();
                             done->store(true);
                           }),
                           done});
}

void ExecServer::unix_accept_loop() {
  for (;;) {
    pollfd fds[2] = {{m_unix_fd, POLLIN, 0}, {m_cancel_read, POLLIN, 0}};
    const int rc = ::poll(fds, 2, 1000);
    if (m_stopped.load() || fds[1].revents != 0) return;
    reap();
    if (rc <= 0) continue;
    const int fd = ::accept4(m_unix_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    bool busy = false;
    {
      std::lock_guard lock(m_mutex);
      busy = m_connections.size() >= m_options.max_connections;
    }
    const auto peer = admin::peer_credentials(fd);
    const bool allowed = !m_options.unix_policy || (peer && admin::is_allowed(*peer, *m_options.unix_policy));
    auto stream = make_fd_stream(fd, m_options.idle_timeout, m_cancel_read);
    if (busy || !allowed) {
      send_error(*stream, {0, ExecWireError::k_bad_request, busy ? "busy: too many connections" : "permission denied"});
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.refused;
      continue;
    }
    {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.connections;
    }
    std::shared_ptr<ExecStream> shared(std::move(stream));
    spawn([this, shared] { serve(*shared, Origin::k_local_engine); });
  }
}

void ExecServer::tcp_accept_loop() {
  for (;;) {
    auto socket = m_tcp->accept(std::chrono::milliseconds(1000), m_cancel_read);
    if (m_stopped.load()) return;
    reap();
    if (!socket) {
      if (socket.error().code == transfer::TransferErrc::k_cancelled) return;
      continue;
    }
    bool busy = false;
    {
      std::lock_guard lock(m_mutex);
      busy = m_connections.size() >= m_options.max_connections;
    }
    if (busy) {
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.refused;
      continue;  // the socket closes here
    }
    auto shared_socket = std::make_shared<transfer::TcpSocket>(std::move(socket).value());
    spawn([this, shared_socket] {
      auto channel = transfer::TlsChannel::handshake(m_options.tls_server, std::move(*shared_socket),
                                                     m_options.idle_timeout, m_cancel_read);
      if (!channel) {
        std::lock_guard lock(m_stats_mutex);
        ++m_stats.refused;
        return;
      }
      {
        std::lock_guard lock(m_stats_mutex);
        ++m_stats.connections;
      }
      auto stream = make_tls_stream(std::move(channel).value());
      serve(*stream, Origin::k_peer);
    });
  }
}

void ExecServer::serve(ExecStream& stream, Origin origin) {
  for (;;) {  // bounded by the connection: each iteration reads a frame or returns
    if (m_stopped.load()) return;
    auto frame = read_frame(stream);
    if (!frame) {
      if (frame.error().code != ExecErrc::k_disconnected && frame.error().code != ExecErrc::k_timeout &&
          frame.error().code != ExecErrc::k_cancelled) {
        send_error(stream, {0, ExecWireError::k_bad_request, frame.error().message});
        std::lock_guard lock(m_stats_mutex);
        ++m_stats.bad_requests;
      }
      return;
    }
    if (frame->header.type != ExecFrameType::k_execute_request) {
      send_error(stream, {0, ExecWireError::k_bad_request, "expected an EXECUTE_REQUEST"});
      return;
    }
    auto request = decode_request_body(frame->body);
    if (!request) {
      send_error(stream, {0, ExecWireError::k_bad_request, request.error().message});
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.bad_requests;
      return;
    }
    auto answer = execute(*request, origin);
    if (!answer) {
      send_error(stream, answer.error());
      continue;
    }
    if (m_options.emulated_delay.count() > 0) std::this_thread::sleep_for(m_options.emulated_delay);
    auto bytes = encode_response(*answer);
    if (!bytes) {
      send_error(stream, {request->request_id, ExecWireError::k_internal, bytes.error().message});
      continue;
    }
    if (!stream.write_all(*bytes)) return;
  }
}

void ExecServer::run_here(const ExecuteRequest& q, const std::vector<std::size_t>& which,
                          std::vector<ResponseExpert>& answers) {
  const std::size_t n = static_cast<std::size_t>(q.tokens) * q.hidden;
  std::vector<ExpertLease> leases;
  std::vector<ExpertJob> jobs;
  std::vector<std::size_t> job_index;
  leases.reserve(which.size());
  for (std::size_t i : which) {
    auto& a = answers[i];
    a.y.clear();
    auto lease = m_source.acquire(q.layer, q.experts[i].expert);
    if (!lease) {
      a.status = lease.error().status;
      a.served = ServedFrom::k_none;
      continue;
    }
    auto view = decode_expert_payload(lease->bytes());
    if (!view || view->hidden != q.hidden) {
      a.status = ExpertStatus::k_failed;
      a.served = ServedFrom::k_none;
      continue;
    }
    a.status = ExpertStatus::k_ok;
    a.served = lease->served();
    a.y.assign(n, 0.0f);
    jobs.push_back({*view, q.x, q.tokens, a.y});
    job_index.push_back(i);
    leases.push_back(std::move(lease).value());
  }
  if (jobs.empty()) return;
  KernelOptions options;
  std::unique_lock threads_lock(m_threads_mutex, std::try_to_lock);
  if (threads_lock.owns_lock() && m_kernel_threads) options.threads = m_kernel_threads.get();
  if (!run_experts(jobs, options)) {
    for (std::size_t i : job_index) {
      answers[i].status = ExpertStatus::k_failed;
      answers[i].y.clear();
    }
    return;
  }
  std::lock_guard lock(m_stats_mutex);
  m_stats.experts_run += jobs.size();
}

Expected<ExecuteResponse, ErrorMessage> ExecServer::execute(const ExecuteRequest& q, Origin origin) {
  {
    std::lock_guard lock(m_stats_mutex);
    ++m_stats.requests;
  }
  const std::string model = m_source.model();
  if (model.empty()) return refuse(q, ExecWireError::k_no_model, "no model on this node yet");
  if (!q.model.empty() && q.model != model)
    return refuse(q, ExecWireError::k_wrong_model, "this node serves model '" + model + "', not '" + q.model + "'");
  if (q.layer >= m_source.num_layers())
    return refuse(q, ExecWireError::k_invalid_range, "layer " + std::to_string(q.layer) + " out of range");
  for (const auto& e : q.experts) {
    if (e.expert >= m_source.num_experts())
      return refuse(q, ExecWireError::k_invalid_range, "expert " + std::to_string(e.expert) + " out of range");
  }
  ExecuteResponse response{q.request_id, q.tokens, q.hidden, {}};
  response.experts.resize(q.experts.size());
  for (std::size_t i = 0; i < q.experts.size(); ++i) response.experts[i].expert = q.experts[i].expert;

  // Split: here, or one group per holder.
  const bool forward = origin == Origin::k_local_engine && (q.flags & k_local_only) == 0 && m_peers;
  std::vector<std::size_t> here;
  std::map<std::string, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < q.experts.size(); ++i) {
    const auto& holder = q.experts[i].holder;
    if (!forward || holder.empty() || holder == m_options.self_address) {
      here.push_back(i);
    } else {
      groups[holder].push_back(i);
    }
  }
  struct Remote {
    std::vector<std::size_t> which;
    Expected<ExecuteResponse, ExecError> answer{Unexpected(ExecError{ExecErrc::k_io, "not run"})};
  };
  std::vector<Remote> remotes;
  remotes.reserve(groups.size());
  for (auto& [holder, which] : groups) remotes.push_back({which, Unexpected(ExecError{ExecErrc::k_io, "not run"})});
  std::vector<std::thread> callers;
  std::size_t r = 0;
  for (const auto& [holder, which] : groups) {
    Remote& remote = remotes[r++];
    callers.emplace_back([this, &q, &remote, address = holder] {
      ExecuteRequest sub{q.request_id, k_local_only, q.model, q.layer, q.tokens, q.hidden, {}, q.x};
      for (std::size_t i : remote.which) sub.experts.push_back({q.experts[i].expert, {}});
      remote.answer = m_peers->call(address, sub);
    });
  }
  run_here(q, here, response.experts);
  for (auto& t : callers) t.join();

  std::vector<std::size_t> fallback;
  std::uint64_t forwarded = 0, failures = 0;
  for (auto& remote : remotes) {
    const bool ok = remote.answer.has_value() && remote.answer->experts.size() == remote.which.size() &&
                    remote.answer->tokens == q.tokens && remote.answer->hidden == q.hidden;
    if (!ok) ++failures;
    for (std::size_t j = 0; j < remote.which.size(); ++j) {
      const std::size_t i = remote.which[j];
      if (ok && remote.answer->experts[j].status == ExpertStatus::k_ok &&
          remote.answer->experts[j].expert == q.experts[i].expert) {
        response.experts[i].status = ExpertStatus::k_ok;
        response.experts[i].served = ServedFrom::k_peer;
        response.experts[i].y = std::move(remote.answer->experts[j].y);
        ++forwarded;
      } else {
        fallback.push_back(i);
      }
    }
  }
  if (!fallback.empty()) {
    run_here(q, fallback, response.experts);
    for (std::size_t i : fallback) {
      if (response.experts[i].status == ExpertStatus::k_not_found) response.experts[i].status = ExpertStatus::k_unavailable;
    }
  }
  std::lock_guard lock(m_stats_mutex);
  m_stats.experts_forwarded += forwarded;
  m_stats.forward_failures += failures;
  m_stats.fallbacks += fallback.size();
  return response;
}

}  // namespace slimcache::agent::exec
