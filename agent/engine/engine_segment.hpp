#pragma once
// Both sides of the engine segment (engine_layout.hpp).
//
// EngineSegment::create (the daemon) makes and initialises the segment; open (an engine
// process, or the C API) maps an existing one read-write (the engine writes counters and
// the ring). record() is the token path: lock-free, allocation-free, no syscalls, safe
// from many threads. The daemon drains new sets with read_sets() and reads the counters
// with counters(); it publishes locations with publish_holders(); engines read them with
// locate(). Errors are returned, never thrown.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "agent/engine/engine_layout.hpp"
#include "platform/shared_memory.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::engine {

struct EngineError {
  std::string message;
};

struct HolderInfo {
  layout::Location location = layout::k_nowhere;
  std::vector<std::uint16_t> holders;  // node indices
};

struct NodeAddress {
  std::string name;
  std::string address;
};

// Copied out of the segment, allocation-free (names and addresses NUL-terminated).
struct Location {
  layout::Location where = layout::k_nowhere;
  std::uint32_t holders = 0;
  layout::NodeEntry nodes[layout::k_max_holders];
};

enum class RecordResult { k_recorded, k_rejected };

class EngineSegment {
 public:
  struct Shape {
    std::uint32_t num_layers = 0;
    std::uint32_t num_experts = 0;
    std::uint32_t ring_capacity = 1 << 16;
    std::string model_id;
  };
  [[nodiscard]] static std::string segment_name(const std::string& base) { return base + ".engine"; }

  [[nodiscard]] static Expected<EngineSegment, EngineError> create(const std::string& base, const Shape& shape);
  [[nodiscard]] static Expected<EngineSegment, EngineError> open(const std::string& base);
  static void remove(const std::string& base);

  // Token path: one layer's top-K set.
  RecordResult record(std::uint32_t layer, std::span<const std::uint16_t> experts) noexcept;

  // Daemon: sets recorded since `*cursor` (updated), as (layer, ids). Returns how many were lost.
  std::uint64_t read_sets(std::uint64_t* cursor,
                          const std::function<void(std::uint32_t layer, std::span<const std::uint16_t> ids)>& sink) const;
  // Daemon: current value of every counter, layer-major.
  [[nodiscard]] std::vector<std::uint64_t> counters() const;

  // Daemon: publishes the node table and every expert's location.
  void publish_holders(const std::vector<NodeAddress>& nodes, const std::vector<HolderInfo>& entries);
  // Engine: where (layer, expert) is; false if out of range or the table keeps changing.
  bool locate(std::uint32_t layer, std::uint32_t expert, Location& out) const;

  [[nodiscard]] std::uint32_t num_layers() const { return m_header->num_layers; }
  [[nodiscard]] std::uint32_t num_experts() const { return m_header->num_experts; }
  [[nodiscard]] std::uint64_t recorded() const { return m_header->cursor.load(std::memory_order_acquire); }
  [[nodiscard]] std::uint64_t dropped() const { return m_header->dropped.load(std::memory_order_relaxed); }
  [[nodiscard]] std::string model() const { return {m_header->model_id, m_header->model_id_size}; }

 private:
  explicit EngineSegment(platform::SharedMemory shm);
  [[nodiscard]] layout::RingEntry* entry(std::uint64_t ticket) const;
  [[nodiscard]] std::atomic<std::uint64_t>* counter_base() const;
  [[nodiscard]] layout::HolderTable* holders() const;
  [[nodiscard]] layout::HolderEntry* holder_entries() const;

  platform::SharedMemory m_shm;
  layout::EngineHeader* m_header = nullptr;
};

}  // namespace slimcache::agent::engine
