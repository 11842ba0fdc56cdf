#include "agent/metrics/metrics_registry.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "agent/metrics/metrics_http.hpp"

namespace slimcache::agent::metrics {
namespace {

TEST(Registry, ExposesCountersGaugesAndCallbacksInTextFormat) {
  Registry sut;
  sut.counter("slimcache_cache_hits_total", "Cache hits by tier", {{"tier", "memory"}}).inc(3);
  sut.counter("slimcache_cache_hits_total", "Cache hits by tier", {{"tier", "disk"}}).inc();
  sut.gauge("slimcache_pins", "Pinned experts").set(2);
  sut.gauge_callback("slimcache_gossip_members", "Live members", [] { return 5.0; });
  const std::string text = sut.expose();
  EXPECT_NE(text.find("# TYPE slimcache_cache_hits_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("slimcache_cache_hits_total{tier=\"memory\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("slimcache_cache_hits_total{tier=\"disk\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("slimcache_pins 2\n"), std::string::npos);
  EXPECT_NE(text.find("slimcache_gossip_members 5\n"), std::string::npos);
}

TEST(Registry, SameNameAndLabelsIsTheSameSeries) {
  Registry sut;
  auto& a = sut.counter("x_total", "x", {{"k", "v"}});
  auto& b = sut.counter("x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
}

TEST(Registry, HistogramBucketsAreCumulative) {
  Registry sut;
  auto& h = sut.histogram("solve_seconds", "Solve time", {0.01, 0.1, 1});
  for (double v : {0.005, 0.05, 0.05, 0.5, 5.0}) h.observe(v);
  const std::string text = sut.expose();
  EXPECT_NE(text.find("solve_seconds_bucket{le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("solve_seconds_bucket{le=\"0.10000000000000001\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("solve_seconds_bucket{le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("solve_seconds_count 5\n"), std::string::npos);
}

TEST(Registry, EscapesLabelValues) {
  EXPECT_EQ(render_labels({{"a", "x\"y\\z\n"}}), "{a=\"x\\\"y\\\\z\\n\"}");
}

TEST(Registry, ConcurrentIncrementsAreAllCounted) {
  Registry sut;
  auto& c = sut.counter("n_total", "n");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { for (int i = 0; i < 10000; ++i) c.inc(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
}

TEST(MetricsHttp, ServesMetricsAnd404) {
  asio::io_context io;
  Registry registry;
  registry.counter("up_total", "u").inc();
  MetricsHttpServer sut(io, registry, {"127.0.0.1", 0, 8, std::chrono::milliseconds(5000)});
  ASSERT_TRUE(sut.start().has_value());
  EXPECT_NE(sut.respond("GET /metrics HTTP/1.1\r\n\r\n").find("up_total 1"), std::string::npos);
  EXPECT_EQ(sut.respond("GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(sut.respond("POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  // A real scrape over loopback.
  std::thread server([&] { io.run(); });
  asio::io_context client_io;
  asio::ip::tcp::socket s(client_io);
  s.connect({asio::ip::make_address("127.0.0.1"), sut.port()});
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string reply;
  asio::error_code ec;
  std::array<char, 4096> buf{};
  for (int i = 0; i < 100; ++i) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    reply.append(buf.data(), n);
    if (ec) break;
  }
  asio::post(io, [&] { sut.stop(); });
  server.join();
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK", 0), 0u);
  EXPECT_NE(reply.find("up_total 1"), std::string::npos);
}

TEST(MetricsHttp, RefusesANonLoopbackAddress) {
  asio::io_context io;
  Registry registry;
  MetricsHttpServer sut(io, registry, {"0.0.0.0", 0, 8, std::chrono::milliseconds(5000)});
  auto r = sut.start();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("loopback"), std::string::npos);
}

}  // namespace
}  // namespace slimcache::agent::metrics
