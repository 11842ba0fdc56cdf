#pragma once
// An ExpertSource over the cache's memory tier (agent/cache/tier_reader.hpp): zero-copy
// leases on resident experts, and on a miss a call to `load` (the daemon: make the expert
// resident and pin it daemon-side, from the disk tier), after which the expert is pinned
// through this reader's lease and `unload` drops the daemon-side pin again.
//
// The segment may not exist yet (no model imported): it is opened lazily on first use and
// again after a failure; model() is "" meanwhile. The reader's lease is renewed when a third
// of its time has passed. Threads: thread-safe (one mutex around the reader; `load` is
// called without it held, so concurrent misses load in parallel).
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "agent/cache/tier_reader.hpp"
#include "agent/exec/expert_source.hpp"
#include "platform/clock.hpp"

namespace slimcache::agent::exec {

class TierExpertSource final : public ExpertSource {
 public:
  using Load = std::function<Expected<void, SourceError>(std::uint32_t layer, std::uint32_t expert)>;
  using Unload = std::function<void(std::uint32_t layer, std::uint32_t expert)>;

  TierExpertSource(std::string shm_name, const platform::Clock& clock, std::chrono::seconds lease_ttl, Load load,
                   Unload unload);
  ~TierExpertSource() override;
  TierExpertSource(const TierExpertSource&) = delete;
  TierExpertSource& operator=(const TierExpertSource&) = delete;

  [[nodiscard]] std::string model() const override;
  [[nodiscard]] std::uint32_t num_layers() const override;
  [[nodiscard]] std::uint32_t num_experts() const override;
  [[nodiscard]] Expected<ExpertLease, SourceError> acquire(std::uint32_t layer, std::uint32_t expert) override;

 private:
  // With m_mutex held: opens the reader if needed; false when the segment does not exist.
  bool ensure_open() const;
  // With m_mutex held.
  cache::PinResult try_pin(std::uint32_t layer, std::uint32_t expert, cache::PinnedExpert& out);
  ExpertLease lease(const cache::PinnedExpert& pinned, ServedFrom served);

  std::string m_shm_name;
  const platform::Clock& m_clock;
  std::chrono::seconds m_ttl;
  Load m_load;
  Unload m_unload;
  mutable std::mutex m_mutex;
  mutable std::unique_ptr<cache::TierReader> m_reader;
  mutable platform::TimePoint m_renewed{};
};

}  // namespace slimcache::agent::exec
