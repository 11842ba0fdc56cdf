#pragma once
// An ExpertSource over payloads held in memory (tests): acquire() counts its calls and
// leases, so tests can see that every lease was released.
#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "agent/exec/aligned_bytes.hpp"
#include "agent/exec/expert_source.hpp"

namespace slimcache::agent::exec::testing {

class MapExpertSource final : public ExpertSource {
 public:
  MapExpertSource(std::string model, std::uint32_t layers, std::uint32_t experts)
      : m_model(std::move(model)), m_layers(layers), m_experts(experts) {}

  // Adds an expert (the bytes are copied into an aligned buffer).
  void put(std::uint32_t layer, std::uint32_t expert, std::span<const std::byte> payload,
           ServedFrom served = ServedFrom::k_memory) {
    AlignedBytes copy(payload.size());
    std::copy(payload.begin(), payload.end(), copy.data());
    std::lock_guard lock(m_mutex);
    m_payloads[{layer, expert}] = {std::move(copy), served};
  }

  std::string model() const override { return m_model; }
  std::uint32_t num_layers() const override { return m_layers; }
  std::uint32_t num_experts() const override { return m_experts; }
  Expected<ExpertLease, SourceError> acquire(std::uint32_t layer, std::uint32_t expert) override {
    std::lock_guard lock(m_mutex);
    ++m_acquired;
    const auto it = m_payloads.find({layer, expert});
    if (it == m_payloads.end())
      return Unexpected(SourceError{ExpertStatus::k_not_found, "not held by " + m_model});
    ++m_live;
    return ExpertLease(std::span<const std::byte>(it->second.first.data(), it->second.first.size()), it->second.second,
                       [this] { --m_live; });
  }

  [[nodiscard]] int acquired() const { return m_acquired.load(); }
  [[nodiscard]] int live_leases() const { return m_live.load(); }

 private:
  std::string m_model;
  std::uint32_t m_layers;
  std::uint32_t m_experts;
  std::mutex m_mutex;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::pair<AlignedBytes, ServedFrom>> m_payloads;
  std::atomic<int> m_acquired{0};
  std::atomic<int> m_live{0};
};

}  // namespace slimcache::agent::exec::testing
