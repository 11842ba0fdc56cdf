#pragma once
// Where the execution service gets expert weights from: an interface so the server can be
// tested with experts held in memory and run in the daemon over the cache's memory tier.
//
// acquire() makes one expert's payload (expert_payload.hpp) available and returns a lease on
// its bytes; the bytes stay valid and unchanged until the lease is destroyed. It may block
// (a load from disk). Failure: SourceError with k_not_found (not on this node) or k_failed.
// Threads: implementations are thread-safe; leases may be destroyed on any thread.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>

#include "agent/exec/exec_protocol.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::exec {

class ExpertLease {
 public:
  ExpertLease() = default;
  ExpertLease(std::span<const std::byte> bytes, ServedFrom served, std::function<void()> release)
      : m_bytes(bytes), m_served(served), m_release(std::move(release)) {}
  ~ExpertLease() { reset(); }
  ExpertLease(ExpertLease&& other) noexcept
      : m_bytes(other.m_bytes), m_served(other.m_served), m_release(std::exchange(other.m_release, {})) {}
  ExpertLease& operator=(ExpertLease&& other) noexcept {
    if (this != &other) {
      reset();
      m_bytes = other.m_bytes;
      m_served = other.m_served;
      m_release = std::exchange(other.m_release, {});
    }
    return *this;
  }
  ExpertLease(const ExpertLease&) = delete;
  ExpertLease& operator=(const ExpertLease&) = delete;

  [[nodiscard]] std::span<const std::byte> bytes() const { return m_bytes; }
  [[nodiscard]] ServedFrom served() const { return m_served; }

 private:
  void reset() {
    if (m_release) std::exchange(m_release, {})();
  }
  std::span<const std::byte> m_bytes;
  ServedFrom m_served = ServedFrom::k_memory;
  std::function<void()> m_release;
};

struct SourceError {
  ExpertStatus status = ExpertStatus::k_failed;
  std::string message;
};

class ExpertSource {
 public:
  virtual ~ExpertSource() = default;
  // The model served; "" while this node has none.
  [[nodiscard]] virtual std::string model() const = 0;
  [[nodiscard]] virtual std::uint32_t num_layers() const = 0;
  [[nodiscard]] virtual std::uint32_t num_experts() const = 0;
  [[nodiscard]] virtual Expected<ExpertLease, SourceError> acquire(std::uint32_t layer, std::uint32_t expert) = 0;
};

}  // namespace slimcache::agent::exec
