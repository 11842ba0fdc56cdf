#include "agent/metrics/cache_metrics.hpp"

#include <cstdint>
#include <memory>

namespace slimcache::agent::metrics {

namespace {

using Field = std::uint64_t cache::CacheCounters::*;

}  // namespace

void export_cache_metrics(Registry& registry, CacheCountersSource read) {
  auto source = std::make_shared<CacheCountersSource>(std::move(read));
  const auto value = [source](Field field) {
    return [source, field]() -> double {
      const auto c = (*source)();
      return c ? static_cast<double>((*c).*field) : 0.0;
    };
  };
  using C = cache::CacheCounters;
  const std::string requests_help = "Requested experts by the tier that served them (miss: on neither tier, needs a peer)";
  registry.counter_callback("slimcache_cache_requests_total", requests_help, value(&C::memory_hits), {{"tier", "memory"}});
  registry.counter_callback("slimcache_cache_requests_total", requests_help, value(&C::disk_hits), {{"tier", "disk"}});
  registry.counter_callback("slimcache_cache_requests_total", requests_help, value(&C::misses), {{"tier", "miss"}});

  const std::string loads_help = "Experts loaded, by source tier and reason";
  registry.counter_callback("slimcache_cache_loads_total", loads_help, value(&C::disk_hits),
                            {{"tier", "disk"}, {"reason", "request"}});
  registry.counter_callback("slimcache_cache_loads_total", loads_help, value(&C::prefetch_loads),
                            {{"tier", "disk"}, {"reason", "prefetch"}});
  registry.counter_callback("slimcache_cache_loads_total", loads_help, value(&C::peer_fetches),
                            {{"tier", "peer"}, {"reason", "fetch"}});

  const std::string bytes_help = "Expert payload bytes loaded, by source tier (disk: into memory; peer: onto disk)";
  registry.counter_callback("slimcache_cache_bytes_loaded_total", bytes_help, value(&C::disk_bytes_loaded), {{"tier", "disk"}});
  registry.counter_callback("slimcache_cache_bytes_loaded_total", bytes_help, value(&C::peer_bytes_loaded), {{"tier", "peer"}});

  registry.counter_callback("slimcache_cache_evictions_total", "Experts evicted from the memory tier", value(&C::evictions));
  registry.counter_callback("slimcache_cache_pins_total", "Daemon pins taken (pin)", value(&C::pins));
  registry.counter_callback("slimcache_cache_unpins_total", "Daemon pins released (unpin)", value(&C::unpins));
  registry.gauge_callback("slimcache_cache_pinned", "Daemon pins held now", value(&C::pinned));
}

}  // namespace slimcache::agent::metrics
