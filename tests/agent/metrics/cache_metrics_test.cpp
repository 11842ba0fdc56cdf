// Cache counters (CacheManager::counters) and their series, scraped over HTTP and parsed as
// the Prometheus text format 0.0.4: every line valid, HELP and TYPE before each family's
// samples, families contiguous, counters never negative.
#include "agent/metrics/cache_metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "agent/cache/cache_manager.hpp"
#include "agent/metrics/metrics_http.hpp"
#include "platform/clock.hpp"
#include "platform/mem_env.hpp"

namespace slimcache::agent::metrics {
namespace {

constexpr std::uint32_t k_layers = 2;
constexpr std::uint32_t k_experts = 4;

std::vector<std::byte> payload(std::uint32_t layer, std::uint32_t expert) {
  return std::vector<std::byte>(1000 + layer * 10 + expert, static_cast<std::byte>(layer * 7 + expert));
}

cache::CacheManagerOptions options(const char* what, std::uint32_t slots) {
  cache::CacheManagerOptions o;
  o.model = "olmoe";
  o.num_layers = k_layers;
  o.num_experts = k_experts;
  o.top_k = 2;
  o.disk_root = "/node/experts";
  o.disk_budget_bytes = 1 << 20;
  o.shm_name = std::string("slimcache-test-cmetrics-") + what + "-" + std::to_string(::getpid());
  o.memory_budget_bytes = 4096 + std::uint64_t{slots} * 4096;
  o.slot_size = 4096;
  o.policy = "lru";
  return o;
}

// ---------------------------------------------------------------- a text-format checker
struct Sample {
  std::string name;
  std::string labels;  // rendered, as in the text
  double value = 0;
};

struct Exposition {
  std::vector<std::string> errors;           // "line N: why"
  std::map<std::string, std::string> types;  // family -> type
  std::vector<Sample> samples;
  [[nodiscard]] std::optional<double> value(const std::string& name, const std::string& labels = "") const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
};

std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (sample.size() > s.size() && sample.ends_with(s)) {
      const auto base = sample.substr(0, sample.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
    }
  }
  return sample;
}

Exposition parse_exposition(const std::string& text) {
  static const std::regex help_re(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))");
  static const std::regex type_re(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample_re(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})? ([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?)");
  Exposition out;
  if (!text.empty() && text.back() != '\n') out.errors.push_back("the text does not end with a newline");
  std::set<std::string> helped;
  std::set<std::string> finished;  // families whose block has ended
  std::set<std::string> series;
  std::set<std::string> sampled;  // families with samples so far
  std::string current;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto err = [&](const std::string& why) { out.errors.push_back("line " + std::to_string(n) + ": " + why + ": " + line); };
    std::smatch m;
    std::string family;
    if (line.empty()) continue;
    if (std::regex_match(line, m, help_re)) {
      family = m[1];
      if (!helped.insert(family).second) err("second HELP");
    } else if (std::regex_match(line, m, type_re)) {
      family = m[1];
      if (out.types.contains(family)) err("second TYPE");
      if (sampled.contains(family)) err("TYPE after samples");
      out.types[family] = m[2];
    } else if (line[0] == '#') {
      if (line.rfind("# HELP", 0) == 0 || line.rfind("# TYPE", 0) == 0) err("malformed HELP/TYPE");
      continue;
    } else if (std::regex_match(line, m, sample_re)) {
      Sample s{m[1], m[2], 0};
      const std::string v = m[3];
      s.value = v == "+Inf" || v == "Inf" ? INFINITY : v == "-Inf" ? -INFINITY : v == "NaN" ? NAN : std::stod(v);
      family = family_of(s.name, out.types);
      if (!out.types.contains(family)) err("sample without a TYPE");
      if (!helped.contains(family)) err("sample without a HELP");
      if (!series.insert(s.name + s.labels).second) err("duplicate series");
      sampled.insert(family);
      if (out.types[family] == "counter" && !(s.value >= 0)) err("negative or NaN counter");
      out.samples.push_back(s);
    } else {
      err("not a valid line");
      continue;
    }
    if (family != current) {
      if (finished.contains(family)) err("family " + family + " is not contiguous");
      if (!current.empty()) finished.insert(current);
      current = family;
    }
  }
  return out;
}

std::string scrape(asio::io_context& io, MetricsHttpServer& server) {
  std::thread runner([&] { io.run(); });
  asio::io_context client_io;
  asio::ip::tcp::socket s(client_io);
  s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string reply;
  asio::error_code ec;
  std::array<char, 4096> buf{};
  for (int i = 0; i < 10000 && !ec; ++i) reply.append(buf.data(), s.read_some(asio::buffer(buf), ec));
  asio::post(io, [&] { server.stop(); });
  runner.join();
  return reply;
}

// ---------------------------------------------------------------- tests
TEST(PrometheusChecker, RejectsMalformedExpositions) {
  EXPECT_FALSE(parse_exposition("a 1\n").errors.empty()) << "no TYPE";
  EXPECT_FALSE(parse_exposition("# HELP a x\n# TYPE a counter\na{b=\"1} 1\n").errors.empty()) << "bad label";
  EXPECT_FALSE(parse_exposition("# HELP a x\n# TYPE a counter\na -1\n").errors.empty()) << "negative counter";
  EXPECT_FALSE(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n").errors.empty())
      << "family split";
  EXPECT_FALSE(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\na 1\n").errors.empty()) << "duplicate";
  EXPECT_TRUE(parse_exposition("# HELP a x\n# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 2\na_count 1\n").errors.empty());
}

TEST(CacheCounters, CountHitsPerTierBytesEvictionsAndPins) {
  platform::MemEnv env;
  platform::ManualClock clock;
  auto opened = cache::CacheManager::open(env, clock, options("count", 2));
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  auto& sut = **opened;
  for (std::uint32_t e = 0; e < 3; ++e) ASSERT_TRUE(sut.store(0, e, payload(0, e)).has_value());
  const std::uint32_t ab[] = {0, 1};
  const std::uint32_t bc[] = {1, 2};
  const std::uint32_t missing[] = {3};

  ASSERT_TRUE(sut.request(0, ab).has_value());       // 2 disk loads
  ASSERT_TRUE(sut.request(0, bc).has_value());       // 1 memory hit, 1 disk load, 1 eviction
  EXPECT_FALSE(sut.request(0, missing).has_value());  // on neither tier
  sut.pin(0, 1);
  sut.pin(0, 1);
  sut.unpin(0, 1);
  sut.unpin(0, 2);  // not pinned: not counted
  sut.note_peer_fetch(1234);
  const auto c = sut.counters();

  EXPECT_EQ(c.memory_hits, 1U);
  EXPECT_EQ(c.disk_hits, 3U);
  EXPECT_EQ(c.misses, 1U);
  EXPECT_EQ(c.disk_bytes_loaded, payload(0, 0).size() + payload(0, 1).size() + payload(0, 2).size());
  EXPECT_EQ(c.evictions, 1U);
  EXPECT_EQ(c.pins, 2U);
  EXPECT_EQ(c.unpins, 1U);
  EXPECT_EQ(c.pinned, 1U);
  EXPECT_EQ(c.peer_fetches, 1U);
  EXPECT_EQ(c.peer_bytes_loaded, 1234U);
}

TEST(CacheMetrics, AScrapeOverHttpIsValidTextFormatWithTheCacheCounters) {
  platform::MemEnv env;
  platform::ManualClock clock;
  auto opened = cache::CacheManager::open(env, clock, options("scrape", 2));
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  auto& cache = **opened;
  for (std::uint32_t e = 0; e < 3; ++e) ASSERT_TRUE(cache.store(1, e, payload(1, e)).has_value());
  const std::uint32_t ab[] = {0, 1};
  const std::uint32_t ca[] = {2, 0};
  ASSERT_TRUE(cache.request(1, ab).has_value());
  ASSERT_TRUE(cache.request(1, ca).has_value());
  cache.pin(1, 0);
  Registry registry;
  export_cache_metrics(registry, [&cache] { return std::optional(cache.counters()); });
  // Series of other kinds beside them, as in the daemon.
  registry.counter("slimcache_config_reloads_total", "Reloads", {{"outcome", "applied"}}).inc();
  registry.histogram("slimcache_test_seconds", "A histogram", {0.1, 1}).observe(0.5);
  asio::io_context io;
  MetricsHttpServer server(io, registry, {"127.0.0.1", 0, 8, std::chrono::milliseconds(5000)});
  ASSERT_TRUE(server.start().has_value());

  const std::string reply = scrape(io, server);

  ASSERT_EQ(reply.rfind("HTTP/1.1 200 OK", 0), 0U) << reply;
  const auto body_at = reply.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  const auto parsed = parse_exposition(reply.substr(body_at + 4));
  for (const auto& e : parsed.errors) ADD_FAILURE() << e;
  const auto c = cache.counters();
  EXPECT_EQ(parsed.types.at("slimcache_cache_requests_total"), "counter");
  EXPECT_EQ(parsed.value("slimcache_cache_requests_total", R"({tier="memory"})"), double(c.memory_hits));
  EXPECT_EQ(parsed.value("slimcache_cache_requests_total", R"({tier="disk"})"), double(c.disk_hits));
  EXPECT_EQ(parsed.value("slimcache_cache_requests_total", R"({tier="miss"})"), 0.0);
  EXPECT_EQ(parsed.value("slimcache_cache_loads_total", R"({tier="peer",reason="fetch"})"), 0.0);
  EXPECT_EQ(parsed.value("slimcache_cache_bytes_loaded_total", R"({tier="disk"})"), double(c.disk_bytes_loaded));
  EXPECT_EQ(parsed.value("slimcache_cache_evictions_total"), double(c.evictions));
  EXPECT_EQ(parsed.value("slimcache_cache_pins_total"), 1.0);
  EXPECT_EQ(parsed.value("slimcache_cache_pinned"), 1.0);
  EXPECT_EQ(parsed.types.at("slimcache_cache_pinned"), "gauge");
  EXPECT_EQ(c.memory_hits, 1U);
  EXPECT_EQ(c.evictions, 1U);
}

TEST(CacheMetrics, SeriesReadZeroWhileNoCacheIsOpen) {
  Registry registry;
  export_cache_metrics(registry, [] { return std::optional<cache::CacheCounters>(); });

  const auto parsed = parse_exposition(registry.expose());

  EXPECT_TRUE(parsed.errors.empty());
  EXPECT_EQ(parsed.value("slimcache_cache_requests_total", R"({tier="disk"})"), 0.0);
  EXPECT_EQ(parsed.value("slimcache_cache_pinned"), 0.0);
}

}  // namespace
}  // namespace slimcache::agent::metrics
