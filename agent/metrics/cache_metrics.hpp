#pragma once
// The expert cache's series (docs/metrics.md), read at scrape time from CacheManager::counters():
//
//   slimcache_cache_requests_total{tier="memory"|"disk"|"miss"}   requested experts by where they were
//   slimcache_cache_loads_total{tier="disk"|"peer",reason=...}     experts loaded into a tier
//   slimcache_cache_bytes_loaded_total{tier="disk"|"peer"}         payload bytes loaded per source tier
//   slimcache_cache_evictions_total, slimcache_cache_pins_total, slimcache_cache_unpins_total
//   slimcache_cache_pinned                                         daemon pins held now (gauge)
//
// `read` returns the current counters, or nullopt while no cache is open (no model imported):
// the series then read 0. It is called on the scraping thread, once per series, with the
// registry's lock held: it must not call back into the registry. Register once per registry
// (again replaces the callbacks).
#include <functional>
#include <optional>

#include "agent/cache/cache_manager.hpp"
#include "agent/metrics/metrics_registry.hpp"

namespace slimcache::agent::metrics {

using CacheCountersSource = std::function<std::optional<cache::CacheCounters>()>;

void export_cache_metrics(Registry& registry, CacheCountersSource read);

}  // namespace slimcache::agent::metrics
