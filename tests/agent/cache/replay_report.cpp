// Benchmark report (not a test): replays a routing trace through every paging policy at cache
// fractions 0.05 to 0.75 and checks the targets. Cold misses are included.
//   slimcache-replay-report [TRACE.jsonl]   (default: $SLIMCACHE_TRACES_DIR/olmoe-decode/trace_olmoe_299.jsonl)
// Exit 0 when every target holds, 1 otherwise, 2 on bad input.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/cache/paging_policies.hpp"
#include "agent/cache/paging_simulator.hpp"
#include "config/trace_reader.hpp"

using namespace slimcache::agent::cache;

int main(int argc, char** argv) {
  std::string path;
  if (argc > 1) {
    path = argv[1];
  } else if (const char* dir = std::getenv("SLIMCACHE_TRACES_DIR")) {
    path = std::string(dir) + "/olmoe-decode/trace_olmoe_299.jsonl";
  } else {
    std::fprintf(stderr, "usage: %s TRACE.jsonl (or set SLIMCACHE_TRACES_DIR)\n", argv[0]);
    return 2;
  }
  auto trace = slimcache::config::read_trace_file(path);
  if (!trace) {
    std::fprintf(stderr, "%s\n", trace.error().to_string().c_str());
    return 2;
  }
  const auto seq = to_request_sequence(*trace);
  const std::vector<double> fractions = {0.05, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25, 0.30, 0.40, 0.50, 0.60, 0.75};
  const auto names = policy_names();
  std::printf("trace %s: %zu tokens, %zu layers x %zu experts, top-%zu, %zu requests\n", path.c_str(),
              trace->num_tokens(), seq.geometry.num_layers, seq.geometry.num_experts, seq.geometry.top_k,
              seq.pages.size());
  std::printf("demand misses (cold included) / ratio to belady; slim's total loads (incl. prefetch) in the last column\n\n");
  std::printf("%5s %5s", "frac", "pages");
  for (auto n : names) std::printf(" %19s", std::string(n).c_str());
  std::printf(" %11s\n", "slim loads");
  bool ok = true;
  std::string failures;
  for (double f : fractions) {
    const std::size_t cap = capacity_for_fraction(seq.geometry, f);
    std::vector<ReplayStats> stats;
    for (auto n : names) {
      auto policy = std::move(make_policy(n, 1)).value();
      auto s = replay(seq, *policy, {cap, 0});
      if (!s) {
        ReplayStats none;
        none.policy = std::string(n);
        none.misses = SIZE_MAX;
        stats.push_back(none);
      } else {
        stats.push_back(*s);
      }
    }
    const auto get = [&](std::string_view n) -> const ReplayStats& {
      for (const auto& s : stats)
        if (s.policy == n) return s;
      return stats.back();
    };
    const double opt = static_cast<double>(get("belady").misses);
    std::printf("%5.2f %5zu", f, cap);
    for (const auto& s : stats) {
      if (s.misses == SIZE_MAX) {
        std::printf(" %19s", "rejected");
      } else {
        std::printf(" %11zu (%5.3f)", s.misses, static_cast<double>(s.misses) / opt);
      }
    }
    std::printf(" %11zu\n", get("slim").total_loads());
    const auto& lru = get("lru");
    const auto& llru = get("llru");
    const auto& slim = get("slim");
    char buf[200];
    if (llru.misses > lru.misses) {
      std::snprintf(buf, sizeof buf, "  llru > lru at %.2f\n", f);
      failures += buf;
    }
    if (slim.misses > llru.misses) {
      std::snprintf(buf, sizeof buf, "  slim > llru at %.2f\n", f);
      failures += buf;
    }
    if ((f == 0.12 || f == 0.25 || f == 0.50) && static_cast<double>(slim.misses) > 0.9 * static_cast<double>(llru.misses)) {
      std::snprintf(buf, sizeof buf, "  slim not 10%% below llru at %.2f\n", f);
      failures += buf;
    }
    if (f == 0.12 || f == 0.25 || f == 0.50) {
      std::printf("      slim vs llru at %.2f: demand misses %+.1f%%, total loads %+.1f%%\n", f,
                  100.0 * (static_cast<double>(slim.misses) / static_cast<double>(llru.misses) - 1.0),
                  100.0 * (static_cast<double>(slim.total_loads()) / static_cast<double>(llru.misses) - 1.0));
    }
  }
  ok = failures.empty();
  std::printf("\ntargets: llru <= lru everywhere; slim <= llru everywhere; slim <= 0.9 x llru at 0.12, 0.25, 0.50: %s\n%s",
              ok ? "all met" : "NOT met", failures.c_str());
  return ok ? 0 : 1;
}
