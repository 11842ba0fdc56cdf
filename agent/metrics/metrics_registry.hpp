#pragma once
// Metrics in the Prometheus text exposition format (version 0.0.4).
//
// Families are registered once by name (with HELP text and type); each label set of a
// family is one series, created on first use and kept for the process lifetime, so the
// handles returned stay valid and updates are a single relaxed atomic operation (no lock,
// no allocation). Callback gauges are evaluated at scrape time, on the scraping thread.
//
// Threads: every function is thread-safe. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*;
// label values are escaped on output.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace slimcache::agent::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { m_value.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> m_value{0};
};

class Gauge {
 public:
  void set(double v) { m_value.store(v, std::memory_order_relaxed); }
  void add(double v);
  [[nodiscard]] double value() const { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> m_value{0};
};

// Cumulative histogram with fixed upper bounds (seconds, bytes, ...).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::vector<double> m_bounds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_buckets;  // non-cumulative, size bounds+1
  std::atomic<double> m_sum{0};
  std::atomic<std::uint64_t> m_count{0};
};

class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       const Labels& labels = {});
  // A gauge whose value is read at scrape time (e.g. the member count).
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> read,
                      const Labels& labels = {});

  // A counter whose value is read at scrape time from a count kept elsewhere (it must never
  // decrease except when its source restarts, e.g. a re-opened cache).
  void counter_callback(const std::string& name, const std::string& help, std::function<double()> read,
                        const Labels& labels = {});

  // The whole registry in the text format, families in name order.
  [[nodiscard]] std::string expose() const;

 private:
  enum class Type { k_counter, k_gauge, k_histogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;       // key: rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, std::function<double()>> callbacks;
    std::map<std::string, Labels> labels;
  };
  Family& family(const std::string& name, const std::string& help, Type type);
  void add_callback(const std::string& name, const std::string& help, Type type, std::function<double()> read,
                    const Labels& labels);

  mutable std::mutex m_mutex;
  std::map<std::string, Family> m_families;
};

// Renders {a="x",b="y"} with escaping; "" for no labels.
[[nodiscard]] std::string render_labels(const Labels& labels);

}  // namespace slimcache::agent::metrics
