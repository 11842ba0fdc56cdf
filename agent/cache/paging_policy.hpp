#pragma once
// Layered paging (MODEL.md section 5): the request stream is one top-K set per layer per
// token, in layer order; every page of the current set must be resident together, and the
// set is pinned while it is served. A PagingPolicy only decides which unpinned page to
// evict (and, optionally, what to load ahead); the PagingSimulator owns the resident set and
// the counts, so every policy is measured the same way.
//
// Pages are numbered layer * num_experts + expert. Policies see only the past of the
// request stream, except offline ones (Belady), which are given the whole sequence first.
// Not thread-safe: one policy object per replay.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "agent/cache/cache_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::cache {

using PageId = std::uint32_t;

struct PagingGeometry {
  std::size_t num_layers = 0;
  std::size_t num_experts = 0;  // per layer
  std::size_t top_k = 0;
  [[nodiscard]] std::size_t num_pages() const { return num_layers * num_experts; }
  [[nodiscard]] std::size_t layer_of(PageId p) const { return p / num_experts; }
};

// The whole request stream, flat: pages[(step) * top_k + i]; step = token * num_layers + layer.
struct RequestSequence {
  PagingGeometry geometry;
  std::vector<PageId> pages;
  [[nodiscard]] std::size_t num_steps() const {
    return geometry.top_k == 0 ? 0 : pages.size() / geometry.top_k;
  }
  [[nodiscard]] std::span<const PageId> set(std::size_t step) const {
    return {pages.data() + step * geometry.top_k, geometry.top_k};
  }
  [[nodiscard]] std::size_t layer(std::size_t step) const { return step % geometry.num_layers; }
};

struct Step {
  std::size_t index = 0;  // global step number
  std::size_t token = 0;
  std::size_t layer = 0;
  std::span<const PageId> pages;  // the requested (and pinned) set
};

// What a policy may look at when choosing a victim. Valid only during the call.
class ResidentView {
 public:
  virtual ~ResidentView() = default;
  [[nodiscard]] virtual std::span<const PageId> resident() const = 0;
  [[nodiscard]] virtual bool is_resident(PageId p) const = 0;
  [[nodiscard]] virtual bool is_pinned(PageId p) const = 0;
};

class PagingPolicy {
 public:
  virtual ~PagingPolicy() = default;
  [[nodiscard]] virtual std::string_view name() const = 0;
  // Forgets everything; the cache holds `capacity` pages. Rejects capacities the policy
  // cannot run with (every policy needs at least top_k pages).
  [[nodiscard]] virtual Expected<void, CacheError> reset(const PagingGeometry& geometry, std::size_t capacity);
  // Offline policies receive the whole sequence before the replay; online ones ignore it.
  virtual void set_future(const RequestSequence& /*sequence*/) {}
  // A requested page that was resident.
  virtual void on_hit(PageId page, const Step& step) = 0;
  // A page just loaded, on demand (requested in `step`) or ahead of demand.
  virtual void on_load(PageId page, const Step& step) = 0;
  virtual void on_evict(PageId page) = 0;
  // Must room be made before `incoming` is loaded? Default: the cache is full.
  [[nodiscard]] virtual bool needs_room(PageId incoming, std::size_t resident_count) const;
  // A resident, unpinned page to evict so that `incoming` fits. The simulator guarantees
  // that one exists.
  [[nodiscard]] virtual PageId choose_victim(const Step& step, PageId incoming, const ResidentView& view) = 0;
  // After `step` is served: pages worth loading now (only into free room or over pages the
  // policy is willing to evict). Default: none.
  virtual void prefetch_after(const Step& /*step*/, const ResidentView& /*view*/, std::vector<PageId>& /*out*/) {}

 protected:
  PagingGeometry m_geometry;
  std::size_t m_capacity = 0;
};

}  // namespace slimcache::agent::cache
