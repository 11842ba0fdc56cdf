#pragma once
// The memory tier's shared-memory layout, version 1. The daemon writes it (MemoryTier); local
// processes read it (TierReader, and later the C API slimcache/client.h). Everything is
// located by byte offsets from the start of its segment: no pointers are ever stored.
// Integers are in the machine's native byte order (the segment never leaves the machine).
//
// Two POSIX shared-memory objects:
//   /dev/shm/<name>          the data segment: mapped read-write by the daemon, read-only by readers
//     0                      SegmentHeader
//     directory_offset       DirectoryEntry[num_layers * num_experts], index layer * num_experts + expert
//     slots_offset           num_slots slots of slot_size bytes (4096-aligned); an expert's payload
//                            is at DirectoryEntry::offset, DirectoryEntry::size bytes
//   /dev/shm/<name>.leases   the lease segment: mapped read-write by everyone
//     0                      LeaseHeader
//     leases_offset          Lease[max_leases]
//     pins_offset            uint32 pins[max_leases][num_layers * num_experts]
//
// Protocol (all atomics sequentially consistent where noted):
//  - A reader takes a free lease (CAS owner_pid 0 -> its pid), sets expiry_unix, and renews it
//    before it expires. The daemon reclaims leases whose owner died or expired: it zeroes
//    their pins, bumps epoch, then frees owner_pid. A reader whose lease epoch changed has
//    lost its pins and must re-acquire.
//  - Pin: read version and state (must be k_resident); increment pins[lease][index]; re-read
//    state and version (seq_cst); if either changed, undo and retry. Then offset/size are stable.
//  - Evict: store state k_evicting (seq_cst), then sum the pins of live leases; if any, store
//    k_resident back and refuse; otherwise store k_absent. Either the reader sees k_evicting or
//    the daemon sees the pin: a pinned expert is never evicted.
//  - Load: state k_loading, write the payload, set offset/size, then state k_resident (release).
//    Every state change bumps the entry's version and the header's generation.
// Layout changes bump k_shm_layout_version; readers refuse other versions.
#include <atomic>
#include <cstdint>

namespace slimcache::agent::cache::shm {

inline constexpr std::uint64_t k_segment_magic = 0x314d48534d494c53ULL;  // "SLIMSHM1"
inline constexpr std::uint64_t k_lease_magic = 0x31534c4d4d494c53ULL;    // "SLIMMLS1"
inline constexpr std::uint32_t k_shm_layout_version = 1;
inline constexpr std::uint64_t k_slot_alignment = 4096;

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

enum EntryState : std::uint32_t { k_absent = 0, k_loading = 1, k_resident = 2, k_evicting = 3 };

struct SegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t header_size;
  std::uint64_t segment_size;
  std::uint32_t num_layers;
  std::uint32_t num_experts;
  std::uint64_t directory_offset;
  std::uint64_t slots_offset;
  std::uint64_t slot_size;
  std::uint32_t num_slots;
  std::uint32_t owner_pid;
  std::atomic<std::uint64_t> generation;
  std::atomic<std::uint32_t> ready;  // 1 once every field above is written
  std::uint32_t model_id_size;
  char model_id[64];
};

struct DirectoryEntry {
  std::atomic<std::uint32_t> state;
  std::uint32_t slot;
  std::atomic<std::uint64_t> version;
  std::uint64_t offset;  // from the start of the data segment
  std::uint64_t size;
};

struct LeaseHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t max_leases;
  std::uint32_t num_entries;
  std::uint32_t reserved;
  std::uint64_t leases_offset;
  std::uint64_t pins_offset;
};

struct alignas(64) Lease {
  std::atomic<std::int32_t> owner_pid;  // 0: free
  std::atomic<std::uint32_t> reserved;
  std::atomic<std::int64_t> expiry_unix;
  std::atomic<std::uint64_t> epoch;
};

}  // namespace slimcache::agent::cache::shm
