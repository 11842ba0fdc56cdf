// slimctl replay: replays a routing trace through the paging policies (docs/cache.md).
//
//   slimctl replay --trace FILE.jsonl (--cache-pages N | --cache-fraction F)
//                  [--policy NAME|all] [--warmup-tokens W] [--seed S] [--json]
//
// Prints, per policy: requests, demand misses, cold misses, miss ratio, prefetch loads,
// total loads and the ratio of misses to belady's (belady is always replayed for it).
// --json prints one object: {"default_policy", "capacity", ..., "policies": [...]}.
// Exit 2 on bad input (a malformed trace line is named with its line number, a cache smaller
// than one layer's top-K, an unknown policy); 0 otherwise.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/cache/paging_policies.hpp"
#include "agent/cache/paging_simulator.hpp"
#include "agent/cli/cli.hpp"
#include "agent/cli/table.hpp"
#include "config/trace_reader.hpp"

namespace slimcache::agent::cli {
namespace {

struct ReplayCommandOptions {
  std::string trace;
  std::size_t cache_pages = 0;
  double cache_fraction = 0.0;
  std::string policy = "all";
  std::size_t warmup_tokens = 0;
  std::uint64_t seed = 1;
  bool json = false;
};

int run_replay(const ReplayCommandOptions& opt) {
  auto trace = config::read_trace_file(opt.trace);
  if (!trace) {
    std::cerr << "slimctl replay: " << trace.error().to_string() << "\n";
    return k_exit_bad_input;
  }
  const auto seq = cache::to_request_sequence(*trace);
  if (seq.num_steps() == 0) {
    std::cerr << "slimctl replay: " << opt.trace << ": the trace has no tokens\n";
    return k_exit_bad_input;
  }
  if (opt.warmup_tokens >= trace->num_tokens()) {
    std::cerr << "slimctl replay: --warmup-tokens " << opt.warmup_tokens << " leaves nothing to measure (the trace has "
              << trace->num_tokens() << " tokens)\n";
    return k_exit_bad_input;
  }
  const std::size_t capacity =
      opt.cache_pages > 0 ? opt.cache_pages : cache::capacity_for_fraction(seq.geometry, opt.cache_fraction);

  std::vector<std::string_view> names;
  if (opt.policy == "all") {
    const auto all = cache::policy_names();
    names.assign(all.begin(), all.end());
  } else {
    names.push_back(opt.policy);
    if (opt.policy != "belady") names.push_back("belady");
  }
  const bool progress = !opt.json && isatty(STDERR_FILENO) != 0;
  std::vector<cache::ReplayStats> results;
  for (std::string_view name : names) {
    auto policy = cache::make_policy(name, opt.seed);
    if (!policy) {
      std::cerr << "slimctl replay: " << policy.error().message << "\n";
      return k_exit_bad_input;
    }
    if (progress) std::cerr << "replaying " << name << "...\r" << std::flush;
    auto stats = cache::replay(seq, **policy, {capacity, opt.warmup_tokens});
    if (!stats) {
      std::cerr << "slimctl replay: " << stats.error().message << "\n";
      return k_exit_bad_input;
    }
    results.push_back(std::move(*stats));
  }
  if (progress) std::cerr << std::string(40, ' ') << "\r" << std::flush;
  if (results.empty()) {  // cannot happen (belady is always replayed); keeps the invariant explicit
    std::cerr << "slimctl replay: no policy was replayed\n";
    return k_exit_bad_input;
  }
  const std::size_t optimum = results.back().misses;  // belady is always last
  auto ratio = [&](const cache::ReplayStats& s) {
    return optimum == 0 ? (s.misses == 0 ? 1.0 : 0.0) : static_cast<double>(s.misses) / static_cast<double>(optimum);
  };
  // With a single policy asked for, belady was added only for the ratio.
  const std::size_t shown = (opt.policy != "all" && opt.policy != "belady") ? 1 : results.size();

  if (opt.json) {
    nlohmann::json out;
    out["trace"] = opt.trace;
    out["default_policy"] = std::string(cache::k_default_policy);
    out["layers"] = seq.geometry.num_layers;
    out["experts_per_layer"] = seq.geometry.num_experts;
    out["top_k"] = seq.geometry.top_k;
    out["tokens"] = trace->num_tokens();
    out["warmup_tokens"] = opt.warmup_tokens;
    out["capacity_pages"] = capacity;
    out["cache_fraction"] = static_cast<double>(capacity) / static_cast<double>(seq.geometry.num_pages());
    out["belady_misses"] = optimum;
    nlohmann::json policies = nlohmann::json::array();
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& s = results[i];
      policies.push_back({{"name", s.policy},
                          {"requests", s.requests},
                          {"misses", s.misses},
                          {"cold_misses", s.cold_misses},
                          {"miss_ratio", s.miss_ratio()},
                          {"prefetch_loads", s.prefetch_loads},
                          {"total_loads", s.total_loads()},
                          {"ratio_to_belady", ratio(s)}});
    }
    out["policies"] = std::move(policies);
    std::cout << out.dump(2) << "\n";
    return k_exit_ok;
  }

  std::cout << opt.trace << ": " << trace->num_tokens() << " tokens, " << seq.geometry.num_layers << " layers x "
            << seq.geometry.num_experts << " experts, top-" << seq.geometry.top_k << "; cache " << capacity << " of "
            << seq.geometry.num_pages() << " pages ("
            << format_fixed(100.0 * static_cast<double>(capacity) / static_cast<double>(seq.geometry.num_pages()), 1)
            << "%)";
  if (opt.warmup_tokens > 0) std::cout << ", first " << opt.warmup_tokens << " tokens not counted";
  std::cout << "\n";
  Table table({"policy", "requests", "misses", "cold", "miss ratio", "prefetched", "total loads", "vs belady"});
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& s = results[i];
    const std::string name = s.policy + (s.policy == cache::k_default_policy ? " (default)" : "");
    table.add_row({name, std::to_string(s.requests), std::to_string(s.misses), std::to_string(s.cold_misses),
                   format_fixed(s.miss_ratio(), 4), std::to_string(s.prefetch_loads), std::to_string(s.total_loads()),
                   format_fixed(ratio(s), 3)});
  }
  table.print(std::cout);
  std::cout << "misses are demand misses (cold included); prefetched pages count in total loads only\n";
  return k_exit_ok;
}

}  // namespace

void add_replay_command(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<ReplayCommandOptions>();
  CLI::App* cmd = app.add_subcommand("replay", "Replay a routing trace through the expert-cache paging policies");
  cmd->add_option("--trace", opt->trace, "Routing trace (JSON lines, one token per line)")->required();
  auto* pages = cmd->add_option("--cache-pages", opt->cache_pages, "Cache size in experts")->check(CLI::PositiveNumber);
  auto* fraction = cmd->add_option("--cache-fraction", opt->cache_fraction, "Cache size as a fraction of all experts")
                       ->check(CLI::Range(0.0, 1.0));
  pages->excludes(fraction);
  fraction->excludes(pages);
  cmd->add_option("--policy", opt->policy, "Policy name, or 'all'")->capture_default_str();
  cmd->add_option("--warmup-tokens", opt->warmup_tokens, "Tokens served before counting starts")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed of the random and marking policies")->capture_default_str();
  cmd->add_flag("--json", opt->json, "One JSON object instead of the table");
  cmd->callback([opt, &ctx, pages, fraction] {
    if (pages->count() == 0 && fraction->count() == 0) {
      std::cerr << "slimctl replay: give the cache size with --cache-pages N or --cache-fraction F\n";
      ctx.exit_code = k_exit_bad_input;
      return;
    }
    ctx.exit_code = run_replay(*opt);
  });
}

}  // namespace slimcache::agent::cli
