#include "agent/metrics/metrics_http.hpp"

namespace slimcache::agent::metrics {

namespace {

std::string http_response(int status, const char* reason, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

struct Connection : std::enable_shared_from_this<Connection> {
  Connection(asio::ip::tcp::socket s, const MetricsHttpServer& server, std::shared_ptr<std::size_t> open,
             std::chrono::milliseconds timeout)
      : socket(std::move(s)), timer(socket.get_executor()), owner(server), open_count(std::move(open)) {
    ++*open_count;
    timer.expires_after(timeout);
  }
  ~Connection() { --*open_count; }

  void start() {
    timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) {
        asio::error_code ignored;
        self->socket.close(ignored);
      }
    });
    read();
  }
  void read() {
    socket.async_read_some(asio::buffer(buf), [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
      if (ec) return;
      self->head.append(self->buf.data(), n);
      if (self->head.find("\r\n\r\n") != std::string::npos) {
        self->out = self->owner.respond(self->head);
        asio::async_write(self->socket, asio::buffer(self->out), [self](const asio::error_code&, std::size_t) {
          asio::error_code ignored;
          self->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
          self->socket.close(ignored);
          self->timer.cancel();
        });
      } else if (self->head.size() > 8192) {
        asio::error_code ignored;
        self->socket.close(ignored);
        self->timer.cancel();
      } else {
        self->read();
      }
    });
  }

  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  const MetricsHttpServer& owner;
  std::shared_ptr<std::size_t> open_count;
  std::array<char, 2048> buf{};
  std::string head;
  std::string out;
};

}  // namespace

MetricsHttpServer::MetricsHttpServer(asio::io_context& io, const Registry& registry, Options options)
    : m_io(io), m_registry(registry), m_options(std::move(options)), m_acceptor(io) {}

Expected<void, std::string> MetricsHttpServer::start() {
  asio::error_code ec;
  const auto address = asio::ip::make_address(m_options.address, ec);
  if (ec) return Unexpected("metrics address '" + m_options.address + "' is not an IP address");
  if (!address.is_loopback())
    return Unexpected("metrics address " + m_options.address + " is not a loopback address; refusing to expose metrics");
  const asio::ip::tcp::endpoint endpoint(address, m_options.port);
  m_acceptor.open(endpoint.protocol(), ec);
  if (!ec) m_acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m_acceptor.bind(endpoint, ec);
  if (!ec) m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unexpected("cannot listen for metrics on " + m_options.address + ":" + std::to_string(m_options.port) + ": " + ec.message());
  do_accept();
  return {};
}

void MetricsHttpServer::stop() {
  asio::error_code ignored;
  m_acceptor.close(ignored);
}

std::uint16_t MetricsHttpServer::port() const {
  asio::error_code ec;
  const auto ep = m_acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::string MetricsHttpServer::respond(std::string_view request_head) const {
  const auto line_end = request_head.find("\r\n");
  const std::string_view line = request_head.substr(0, line_end);
  if (line.rfind("GET ", 0) != 0 && line.rfind("HEAD ", 0) != 0)
    return http_response(405, "Method Not Allowed", "text/plain", "only GET\n");
  const auto path_start = line.find(' ') + 1;
  const auto path_end = line.find(' ', path_start);
  const std::string_view path = line.substr(path_start, path_end == std::string_view::npos ? std::string_view::npos : path_end - path_start);
  if (path == "/metrics") {
    std::string body = m_registry.expose();
    if (line.rfind("HEAD ", 0) == 0) {
      auto r = http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
      return r.substr(0, r.size() - body.size());
    }
    return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
  }
  return http_response(404, "Not Found", "text/plain", "try /metrics\n");
}

void MetricsHttpServer::do_accept() {
  m_acceptor.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !m_acceptor.is_open()) return;
    if (!ec && *m_open < m_options.max_connections) {
      std::make_shared<Connection>(std::move(socket), *this, m_open, m_options.timeout)->start();
    }
    do_accept();
  });
}

}  // namespace slimcache::agent::metrics
