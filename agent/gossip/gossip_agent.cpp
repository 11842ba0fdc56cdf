#include "agent/gossip/gossip_agent.hpp"

#include <random>

namespace slimcache::agent::gossip {

namespace {
constexpr std::size_t k_max_events = 65536;
}

std::optional<std::pair<asio::ip::address, std::uint16_t>> parse_address(const Address& a) {
  const auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = a.substr(0, colon);
  const std::string port = a.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long p = std::stoul(port);
  if (p > 65535) return std::nullopt;
  asio::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return std::make_pair(ip, static_cast<std::uint16_t>(p));
}

Address format_address(const asio::ip::address& ip, std::uint16_t port) {
  if (ip.is_v6()) return "[" + ip.to_string() + "]:" + std::to_string(port);
  return ip.to_string() + ":" + std::to_string(port);
}

struct GossipAgent::StreamConn {
  explicit StreamConn(asio::io_context& io) : socket(io), timer(io) {}
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  std::array<std::uint8_t, 4> header{};
  Bytes body;
};

GossipAgent::GossipAgent(asio::io_context& io, GossipConfig config, Keyring keyring, platform::Clock& clock)
    : m_io(io),
      m_config(std::move(config)),
      m_keyring(std::move(keyring)),
      m_clock(clock),
      m_udp(io),
      m_acceptor(io),
      m_timer(io),
      m_leave_timer(io) {}

GossipAgent::~GossipAgent() {
  *m_alive = false;
  stop();
}

Expected<void, Error> GossipAgent::start() {
  auto parsed = parse_address(m_config.address);
  if (!parsed) return Unexpected(Error{ErrorCode::invalid_argument, "bad address '" + m_config.address + "' (want ip:port)"});
  asio::error_code ec;
  std::uint16_t port = 0;
  // Port 0: the kernel picks the UDP port and TCP must get the same number, which another
  // socket may hold; try a few ephemeral ports before giving up (a fixed port gets one try).
  const int attempts = parsed->second == 0 ? 16 : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    const asio::ip::udp::endpoint uep(parsed->first, parsed->second);
    m_udp.open(uep.protocol(), ec);
    if (!ec) m_udp.bind(uep, ec);
    if (ec) {
      asio::error_code ignored;
      m_udp.close(ignored);
      return Unexpected(Error{ErrorCode::io, "udp bind " + m_config.address + ": " + ec.message()});
    }
    port = m_udp.local_endpoint(ec).port();
    const asio::ip::tcp::endpoint tep(parsed->first, port);
    m_acceptor.open(tep.protocol(), ec);
    if (!ec) m_acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) m_acceptor.bind(tep, ec);
    if (!ec) m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
    asio::error_code ignored;
    m_acceptor.close(ignored);
    m_udp.close(ignored);
    if (attempt + 1 == attempts)
      return Unexpected(Error{ErrorCode::io, "tcp listen " + format_address(parsed->first, port) + ": " + ec.message()});
  }
  m_address = format_address(parsed->first, port);
  m_config.address = m_address;
  std::random_device rd;
  const std::uint64_t seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  m_node = std::make_unique<GossipNode>(m_config, std::move(*m_keyring), seed,
                                        static_cast<std::uint64_t>(m_clock.unix_seconds()), m_clock.now());
  m_keyring.reset();
  receive();
  accept();
  after_core();
  return {};
}

void GossipAgent::stop() {
  if (m_stopped) return;
  m_stopped = true;
  asio::error_code ec;
  m_udp.close(ec);
  m_acceptor.close(ec);
  m_timer.cancel();
  m_leave_timer.cancel();
  m_tx.clear();
}

void GossipAgent::join(const std::vector<Address>& seeds) {
  if (!running()) return;
  dispatch(m_node->join(seeds, m_clock.now()));
  after_core();
}

void GossipAgent::leave(Duration propagate, std::function<void()> done) {
  if (!running()) return;
  dispatch(m_node->leave(m_clock.now()));
  after_core();
  m_leave_timer.expires_after(propagate);
  m_leave_timer.async_wait([this, alive = m_alive, done = std::move(done)](const asio::error_code&) {
    if (!*alive) return;
    stop();
    if (done) done();
  });
}

Expected<void, Error> GossipAgent::set_state(const std::string& key, std::span<const std::uint8_t> value) {
  if (m_node == nullptr) return Unexpected(Error{ErrorCode::invalid_argument, "not started"});
  auto r = m_node->set_state(key, value);
  after_core();
  return r;
}

std::optional<Bytes> GossipAgent::peer_state(const std::string& node, const std::string& key) const {
  return m_node == nullptr ? std::nullopt : m_node->state(node, key);
}

std::vector<MemberInfo> GossipAgent::members() const {
  return m_node == nullptr ? std::vector<MemberInfo>{} : m_node->members();
}

std::vector<Event> GossipAgent::take_events() {
  std::vector<Event> out(m_events.begin(), m_events.end());
  m_events.clear();
  return out;
}

void GossipAgent::after_core() {
  for (auto& e : m_node->take_events()) {
    if (m_callback) m_callback(e);
    m_events.push_back(std::move(e));
    if (m_events.size() > k_max_events) m_events.pop_front();
  }
  arm_timer();
}

void GossipAgent::arm_timer() {
  if (m_stopped) return;
  const auto now = m_clock.now();
  auto wait = m_node->next_deadline() - now;
  wait = std::max<Duration>(wait, std::chrono::microseconds(200));
  m_timer.expires_after(wait);
  m_timer.async_wait([this, alive = m_alive](const asio::error_code& ec) {
    if (!*alive || ec == asio::error::operation_aborted || m_stopped) return;
    dispatch(m_node->on_tick(m_clock.now()));
    after_core();
  });
}

void GossipAgent::receive() {
  m_udp.async_receive_from(asio::buffer(m_rx), m_rx_from, [this, alive = m_alive](const asio::error_code& ec, std::size_t n) {
    if (!*alive || ec == asio::error::operation_aborted || m_stopped) return;
    if (ec) {
      ++m_io_errors;
    } else {
      const Address from = format_address(m_rx_from.address(), m_rx_from.port());
      dispatch(m_node->on_packet(from, std::span<const std::uint8_t>(m_rx.data(), n), Channel::datagram, m_clock.now()));
      after_core();
    }
    receive();
  });
}

void GossipAgent::accept() {
  auto conn = std::make_shared<StreamConn>(m_io);
  m_acceptor.async_accept(conn->socket, [this, alive = m_alive, conn](const asio::error_code& ec) {
    if (!*alive || ec == asio::error::operation_aborted || m_stopped) return;
    if (ec) {
      ++m_io_errors;
      accept();
      return;
    }
    conn->timer.expires_after(stream_timeout);
    conn->timer.async_wait([conn](const asio::error_code& tec) {
      if (tec != asio::error::operation_aborted) {
        asio::error_code ignored;
        conn->socket.close(ignored);
      }
    });
    asio::async_read(conn->socket, asio::buffer(conn->header), [this, alive, conn](const asio::error_code& rec, std::size_t) {
      if (!*alive || m_stopped) return;
      if (rec) {
        ++m_io_errors;
        conn->timer.cancel();
        return;
      }
      const std::uint32_t len = (std::uint32_t{conn->header[0]} << 24) | (std::uint32_t{conn->header[1]} << 16) |
                                (std::uint32_t{conn->header[2]} << 8) | conn->header[3];
      if (len > m_config.stream_max) {
        ++m_io_errors;
        conn->timer.cancel();
        asio::error_code ignored;
        conn->socket.close(ignored);
        return;
      }
      conn->body.resize(len);
      asio::async_read(conn->socket, asio::buffer(conn->body), [this, alive, conn](const asio::error_code& bec, std::size_t) {
        conn->timer.cancel();
        if (!*alive || m_stopped) return;
        if (bec) {
          ++m_io_errors;
          return;
        }
        asio::error_code pec;
        const auto peer = conn->socket.remote_endpoint(pec);
        const Address from = pec ? Address{} : format_address(peer.address(), peer.port());
        dispatch(m_node->on_packet(from, conn->body, Channel::stream, m_clock.now()));
        after_core();
        asio::error_code ignored;
        conn->socket.close(ignored);
      });
    });
    accept();
  });
}

std::optional<asio::ip::udp::endpoint> GossipAgent::endpoint_of(const Address& a) {
  auto it = m_endpoints.find(a);
  if (it != m_endpoints.end()) return it->second;
  auto parsed = parse_address(a);
  if (!parsed) return std::nullopt;
  asio::ip::udp::endpoint ep(parsed->first, parsed->second);
  if (m_endpoints.size() > 65536) m_endpoints.clear();
  m_endpoints.emplace(a, ep);
  return ep;
}

void GossipAgent::dispatch(std::vector<Outgoing> out) {
  if (m_stopped) return;
  for (auto& o : out) {
    if (o.channel == Channel::stream) {
      send_stream(o.to, std::move(o.bytes));
      continue;
    }
    auto ep = endpoint_of(o.to);
    if (!ep) {
      ++m_io_errors;
      continue;
    }
    if (m_tx.size() >= 4096) {  // bounded: a datagram queue that long is stale anyway
      ++m_io_errors;
      continue;
    }
    m_tx.emplace_back(*ep, std::move(o.bytes));
  }
  send_next_datagram();
}

void GossipAgent::send_next_datagram() {
  if (m_tx_busy || m_tx.empty() || m_stopped) return;
  m_tx_busy = true;
  m_udp.async_send_to(asio::buffer(m_tx.front().second), m_tx.front().first,
                      [this, alive = m_alive](const asio::error_code& ec, std::size_t) {
                        if (!*alive) return;
                        m_tx_busy = false;
                        if (ec == asio::error::operation_aborted || m_stopped) return;
                        if (ec) ++m_io_errors;
                        m_tx.pop_front();
                        send_next_datagram();
                      });
}

void GossipAgent::send_stream(const Address& to, Bytes bytes) {
  auto parsed = parse_address(to);
  if (!parsed) {
    ++m_io_errors;
    return;
  }
  auto conn = std::make_shared<StreamConn>(m_io);
  const auto n = static_cast<std::uint32_t>(bytes.size());
  conn->body.reserve(bytes.size() + 4);
  conn->body = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                static_cast<std::uint8_t>(n)};
  conn->body.insert(conn->body.end(), bytes.begin(), bytes.end());
  conn->timer.expires_after(stream_timeout);
  conn->timer.async_wait([conn](const asio::error_code& ec) {
    if (ec != asio::error::operation_aborted) {
      asio::error_code ignored;
      conn->socket.close(ignored);
    }
  });
  const asio::ip::tcp::endpoint ep(parsed->first, parsed->second);
  conn->socket.async_connect(ep, [this, alive = m_alive, conn](const asio::error_code& ec) {
    if (!*alive) return;
    if (ec) {
      ++m_io_errors;
      conn->timer.cancel();
      return;
    }
    asio::async_write(conn->socket, asio::buffer(conn->body), [this, alive, conn](const asio::error_code& wec, std::size_t) {
      conn->timer.cancel();
      if (!*alive) return;
      if (wec) ++m_io_errors;
      asio::error_code ignored;
      conn->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      conn->socket.close(ignored);
    });
  });
}

}  // namespace slimcache::agent::gossip
