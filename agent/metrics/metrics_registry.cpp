#include "agent/metrics/metrics_registry.hpp"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace slimcache::agent::metrics {

namespace {

std::string escape(const std::string& v, bool help) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && !help) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void add_atomic(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

// Labels plus one more (le="..."), rendered.
std::string with_label(const Labels& labels, const std::string& key, const std::string& value) {
  Labels l = labels;
  l.emplace_back(key, value);
  return render_labels(l);
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + escape(labels[i].second, false) + "\"";
  }
  return out + "}";
}

void Gauge::add(double v) { add_atomic(m_value, v); }

Histogram::Histogram(std::vector<double> bounds)
    : m_bounds(std::move(bounds)), m_buckets(new std::atomic<std::uint64_t>[m_bounds.size() + 1]) {
  for (std::size_t i = 0; i <= m_bounds.size(); ++i) m_buckets[i].store(0);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < m_bounds.size() && v > m_bounds[i]) ++i;
  m_buckets[i].fetch_add(1, std::memory_order_relaxed);
  add_atomic(m_sum, v);
  m_count.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = m_bounds;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= m_bounds.size(); ++i) {
    running += m_buckets[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = m_sum.load(std::memory_order_relaxed);
  s.count = running;
  return s;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = m_families.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  }
  assert(it->second.type == type && "a metric name is registered with two types");
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(m_mutex);
  auto& f = family(name, help, Type::k_counter);
  const auto key = render_labels(labels);
  auto& slot = f.counters[key];
  if (!slot) {
    slot = std::make_unique<Counter>();
    f.labels[key] = labels;
  }
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(m_mutex);
  auto& f = family(name, help, Type::k_gauge);
  const auto key = render_labels(labels);
  auto& slot = f.gauges[key];
  if (!slot) {
    slot = std::make_unique<Gauge>();
    f.labels[key] = labels;
  }
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                               const Labels& labels) {
  std::lock_guard lock(m_mutex);
  auto& f = family(name, help, Type::k_histogram);
  const auto key = render_labels(labels);
  auto& slot = f.histograms[key];
  if (!slot) {
    slot = std::make_unique<Histogram>(std::move(bounds));
    f.labels[key] = labels;
  }
  return *slot;
}

void Registry::add_callback(const std::string& name, const std::string& help, Type type, std::function<double()> read,
                            const Labels& labels) {
  std::lock_guard lock(m_mutex);
  auto& f = family(name, help, type);
  const auto key = render_labels(labels);
  f.callbacks[key] = std::move(read);
  f.labels[key] = labels;
}

void Registry::gauge_callback(const std::string& name, const std::string& help, std::function<double()> read,
                              const Labels& labels) {
  add_callback(name, help, Type::k_gauge, std::move(read), labels);
}

void Registry::counter_callback(const std::string& name, const std::string& help, std::function<double()> read,
                                const Labels& labels) {
  add_callback(name, help, Type::k_counter, std::move(read), labels);
}

std::string Registry::expose() const {
  std::lock_guard lock(m_mutex);
  std::string out;
  for (const auto& [name, f] : m_families) {
    out += "# HELP " + name + " " + escape(f.help, true) + "\n";
    out += "# TYPE " + name + (f.type == Type::k_counter ? " counter\n" : f.type == Type::k_gauge ? " gauge\n" : " histogram\n");
    for (const auto& [key, c] : f.counters) out += name + key + " " + std::to_string(c->value()) + "\n";
    for (const auto& [key, g] : f.gauges) out += name + key + " " + number(g->value()) + "\n";
    for (const auto& [key, read] : f.callbacks) out += name + key + " " + number(read()) + "\n";
    for (const auto& [key, h] : f.histograms) {
      const auto s = h->snapshot();
      const auto& labels = f.labels.at(key);
      for (std::size_t i = 0; i < s.bounds.size(); ++i)
        out += name + "_bucket" + with_label(labels, "le", number(s.bounds[i])) + " " + std::to_string(s.cumulative[i]) + "\n";
      out += name + "_bucket" + with_label(labels, "le", "+Inf") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + key + " " + number(s.sum) + "\n";
      out += name + "_count" + key + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace slimcache::agent::metrics
