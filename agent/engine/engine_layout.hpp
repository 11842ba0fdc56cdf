#pragma once
// The engine segment, layout version 1: how a local inference engine reports its router
// decisions to slimcached and learns where every expert is, through POSIX shared memory
// (/dev/shm/<name>.engine, beside the memory tier's /dev/shm/<name>, see
// agent/cache/shm_layout.hpp). Offsets only, never pointers; native byte order.
//
//   0                    EngineHeader
//   counters_offset      atomic<uint64> counters[num_layers * num_experts]  (times chosen)
//   ring_offset          RingEntry[ring_capacity], each ring_entry_size bytes
//   holders_offset       HolderTable (where each expert is, written by the daemon)
//
// Token path (engine, any number of threads, no syscalls, no locks):
//   counters[l * E + e].fetch_add(1, relaxed) for each chosen expert, then
//   t = cursor.fetch_add(1); entry = ring[t % capacity];
//   entry.seq = 2t + 1 (release); write layer, k, ids; entry.seq = 2t + 2 (release).
// The daemon reads entries [last, cursor): an entry whose seq is not 2t + 2 before and
// after copying was overwritten or is being written and is skipped (counted as lost).
//
// Holder table (daemon writes, engines read under a seqlock): generation is odd while the
// daemon writes; a reader copies and retries when generation was odd or changed.
// Per (layer, expert): a location (memory, local disk, peer, none) and up to
// k_max_holders node indices into the node table (names and host:port addresses).
#include <atomic>
#include <cstdint>

namespace slimcache::agent::engine::layout {

inline constexpr std::uint64_t k_magic = 0x31544341'4d494c53ULL;  // "SLIMACT1"
inline constexpr std::uint32_t k_version = 1;
inline constexpr std::uint32_t k_max_top_k = 32;
inline constexpr std::uint32_t k_max_holders = 4;
inline constexpr std::uint32_t k_max_nodes = 256;
inline constexpr std::uint32_t k_node_name_size = 48;
inline constexpr std::uint32_t k_node_address_size = 48;

struct EngineHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t header_size;
  std::uint64_t segment_size;
  std::uint32_t num_layers;
  std::uint32_t num_experts;
  std::uint32_t max_top_k;
  std::uint32_t ring_capacity;
  std::uint32_t ring_entry_size;
  std::uint32_t reserved;
  std::uint64_t counters_offset;
  std::uint64_t ring_offset;
  std::uint64_t holders_offset;
  std::atomic<std::uint64_t> cursor;        // sets recorded so far
  std::atomic<std::uint64_t> dropped;       // records refused (bad layer/expert/k)
  std::atomic<std::uint32_t> ready;         // 1 once the daemon has written every field
  std::uint32_t model_id_size;
  char model_id[64];
};

struct RingEntry {
  std::atomic<std::uint64_t> seq;
  std::uint16_t layer;
  std::uint16_t k;
  std::uint16_t ids[k_max_top_k];
};

enum Location : std::uint8_t { k_nowhere = 0, k_memory = 1, k_local_disk = 2, k_peer = 3 };

struct HolderEntry {
  std::uint8_t location;
  std::uint8_t holders;                    // valid entries in node[]
  std::uint16_t node[k_max_holders];       // indices into NodeEntry[]
};

struct NodeEntry {
  char name[k_node_name_size];
  char address[k_node_address_size];     // host:port of its expert execution service
};

struct HolderTable {
  std::atomic<std::uint64_t> generation;  // odd while being written
  std::uint32_t num_nodes;
  std::uint32_t reserved;
  NodeEntry nodes[k_max_nodes];
  // followed by HolderEntry[num_layers * num_experts]
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(sizeof(HolderEntry) == 10);

}  // namespace slimcache::agent::engine::layout
