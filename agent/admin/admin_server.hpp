#pragma once
// slimcached's admin socket: a Unix stream socket speaking admin_protocol.hpp.
//
// The socket file is created with the configured mode (default 0660) and group; every
// connection's peer credentials are checked (peer_credentials.hpp) before any request is
// read; a refused peer gets one permission_denied response and is disconnected.
// At most max_connections clients at once (the next is told "busy" and closed); each
// connection handles one request at a time and is closed after idle_timeout without one.
//
// Threads: everything runs on the io_context given to the constructor; handlers are
// called there and may answer later (from that io_context) through their Reply.
#include <sys/types.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/admin/admin_protocol.hpp"
#include "agent/admin/peer_credentials.hpp"

namespace slimcache::agent::admin {

class Session;

// The answer channel of one request. Exactly one of result()/fail() must be called;
// progress() any number of times before. Copies share the request. Safe after the
// client went away (answers are dropped).
class Reply {
 public:
  Reply(std::shared_ptr<Session> session, std::uint64_t id);
  void progress(const nlohmann::json& progress) const;
  void result(const nlohmann::json& result) const;
  void fail(ErrorCode code, const std::string& message) const;

 private:
  std::shared_ptr<Session> m_session;
  std::uint64_t m_id;
};

struct AdminCounters {
  std::uint64_t connections = 0;
  std::uint64_t refused_credentials = 0;
  std::uint64_t refused_busy = 0;
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
};

class AdminServer {
 public:
  struct Options {
    std::string path;
    unsigned mode = 0660;
    std::optional<gid_t> group;
    std::size_t max_connections = 16;
    std::chrono::milliseconds idle_timeout{30'000};
  };
  using Handler = std::function<void(const Request& request, const PeerCredentials& peer, Reply reply)>;

  AdminServer(asio::io_context& io, Options options, AccessPolicy policy);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens. A stale socket file (nobody listening) is replaced; a live one
  // is an error ("another daemon is running"). Fails with the reason on bind/chmod/chown errors.
  [[nodiscard]] Expected<void, Error> start();
  // Stops accepting, closes every connection, removes the socket file.
  void stop();

  // Registers a command; the name "commands" is built in (lists the registered ones).
  void add_command(const std::string& name, Handler handler);

  // A snapshot; safe to call from any thread (tests read it while the server runs).
  [[nodiscard]] AdminCounters counters() const {
    return {m_counters.connections.load(), m_counters.refused_credentials.load(), m_counters.refused_busy.load(),
            m_counters.requests.load(), m_counters.bad_requests.load()};
  }
  [[nodiscard]] std::size_t open_connections() const;

 private:
  friend class Session;
  void do_accept();
  void dispatch(const std::shared_ptr<Session>& session, const Request& request);

  asio::io_context& m_io;
  Options m_options;
  AccessPolicy m_policy;
  asio::local::stream_protocol::acceptor m_acceptor;
  std::map<std::string, Handler> m_handlers;
  std::map<Session*, std::weak_ptr<Session>> m_sessions;
  struct {
    std::atomic<std::uint64_t> connections{0}, refused_credentials{0}, refused_busy{0}, requests{0}, bad_requests{0};
  } m_counters;
  bool m_started = false;
};

}  // namespace slimcache::agent::admin
