#pragma once
// The Asio driver of a GossipNode: a UDP socket for datagrams and a TCP listener for
// stream frames (push-pull), both on config.address ("ip:port"; IPv6 as "[::1]:port";
// port 0 picks a free one, see address()). One io_context, one thread: every method must
// be called on the io_context's thread (use asio::post from elsewhere). Handlers never
// outlive the agent: each checks a liveness token first.
//
// Network operations all have deadlines: TCP connect, write and read each get
// stream_timeout; a UDP send queue keeps one send in flight. Stream frames are a u32
// big-endian length then the sealed packet; one frame per connection.
//
// Failure: start() returns an Error if the sockets cannot be opened or bound. Later socket
// errors are counted (io_errors()) and never stop the agent.
#include <asio.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/gossip/gossip_node.hpp"
#include "platform/clock.hpp"

namespace slimcache::agent::gossip {

class GossipAgent {
 public:
  using EventCallback = std::function<void(const Event&)>;

  GossipAgent(asio::io_context& io, GossipConfig config, Keyring keyring,
              platform::Clock& clock = platform::SystemClock::instance());
  ~GossipAgent();
  GossipAgent(const GossipAgent&) = delete;
  GossipAgent& operator=(const GossipAgent&) = delete;

  Expected<void, Error> start();
  // Closes the sockets and cancels the timers; the node stops at once (see leave()).
  void stop();
  [[nodiscard]] bool running() const { return m_node != nullptr && !m_stopped; }
  // The bound address (differs from config.address when its port was 0).
  [[nodiscard]] const Address& address() const { return m_address; }

  void join(const std::vector<Address>& seeds);
  // Announces the leave, keeps gossiping for `propagate`, then stops and calls done.
  void leave(Duration propagate, std::function<void()> done = {});

  Expected<void, Error> set_state(const std::string& key, std::span<const std::uint8_t> value);
  [[nodiscard]] std::optional<Bytes> peer_state(const std::string& node, const std::string& key) const;
  [[nodiscard]] std::vector<MemberInfo> members() const;
  // Events are delivered to the callback (if any) and kept for take_events() (bounded).
  void on_event(EventCallback cb) { m_callback = std::move(cb); }
  [[nodiscard]] std::vector<Event> take_events();

  // Keyring operations: install, use, remove, list (as Serf's `keys` command).
  [[nodiscard]] Keyring& keyring() { return m_node->keyring(); }
  [[nodiscard]] std::optional<RttEstimate> rtt(const std::string& node) const { return m_node->rtt().get(node); }
  [[nodiscard]] const Counters& counters() const { return m_node->counters(); }
  [[nodiscard]] std::uint64_t io_errors() const { return m_io_errors; }
  [[nodiscard]] GossipNode& node() { return *m_node; }

  Duration stream_timeout = std::chrono::seconds(10);

 private:
  struct StreamConn;
  void dispatch(std::vector<Outgoing> out);
  void after_core();
  void arm_timer();
  void receive();
  void accept();
  void send_next_datagram();
  void send_stream(const Address& to, Bytes bytes);
  std::optional<asio::ip::udp::endpoint> endpoint_of(const Address& a);

  asio::io_context& m_io;
  GossipConfig m_config;
  std::optional<Keyring> m_keyring;
  platform::Clock& m_clock;
  std::unique_ptr<GossipNode> m_node;
  Address m_address;
  asio::ip::udp::socket m_udp;
  asio::ip::tcp::acceptor m_acceptor;
  asio::steady_timer m_timer;
  asio::steady_timer m_leave_timer;
  std::array<std::uint8_t, 65536> m_rx{};
  asio::ip::udp::endpoint m_rx_from;
  std::deque<std::pair<asio::ip::udp::endpoint, Bytes>> m_tx;
  bool m_tx_busy = false;
  bool m_stopped = false;
  std::unordered_map<Address, asio::ip::udp::endpoint> m_endpoints;
  std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
  EventCallback m_callback;
  std::deque<Event> m_events;
  std::uint64_t m_io_errors = 0;
};

// "ip:port" / "[v6]:port" -> endpoint parts; nullopt if malformed.
[[nodiscard]] std::optional<std::pair<asio::ip::address, std::uint16_t>> parse_address(const Address& a);
[[nodiscard]] Address format_address(const asio::ip::address& ip, std::uint16_t port);

}  // namespace slimcache::agent::gossip
