#pragma once
// A minimal HTTP/1.1 endpoint serving GET /metrics from a Registry (Prometheus scrape).
//
// Binds only to loopback addresses (127.0.0.0/8 or ::1): anything else is refused at
// start(). One request per connection (Connection: close); requests larger than 8 KiB or
// not complete within the timeout are dropped; at most max_connections at once.
// Threads: runs on the given io_context; the registry is read on that thread.
#include <asio.hpp>
#include <chrono>
#include <string>

#include "agent/metrics/metrics_registry.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::metrics {

class MetricsHttpServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 9464;  // 0 = any free port (tests)
    std::size_t max_connections = 8;
    std::chrono::milliseconds timeout{5000};
  };
  MetricsHttpServer(asio::io_context& io, const Registry& registry, Options options);

  [[nodiscard]] Expected<void, std::string> start();
  void stop();
  [[nodiscard]] std::uint16_t port() const;  // the bound port

  // The response for a raw request head (exposed for tests and fuzzing).
  [[nodiscard]] std::string respond(std::string_view request_head) const;

 private:
  void do_accept();

  asio::io_context& m_io;
  const Registry& m_registry;
  Options m_options;
  asio::ip::tcp::acceptor m_acceptor;
  std::shared_ptr<std::size_t> m_open = std::make_shared<std::size_t>(0);
};

}  // namespace slimcache::agent::metrics
