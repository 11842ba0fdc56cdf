#include "agent/engine/engine_segment.hpp"

#include <algorithm>
#include <cstring>

namespace slimcache::agent::engine {

namespace {

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

struct Offsets {
  std::uint64_t counters, ring, holders, size;
};

Offsets offsets_for(std::uint32_t layers, std::uint32_t experts, std::uint32_t capacity) {
  Offsets o{};
  o.counters = align_up(sizeof(layout::EngineHeader), 64);
  o.ring = align_up(o.counters + std::uint64_t{layers} * experts * sizeof(std::uint64_t), 64);
  o.holders = align_up(o.ring + std::uint64_t{capacity} * sizeof(layout::RingEntry), 64);
  o.size = align_up(o.holders + sizeof(layout::HolderTable) + std::uint64_t{layers} * experts * sizeof(layout::HolderEntry), 4096);
  return o;
}

Unexpected<EngineError> fail(std::string m) { return Unexpected(EngineError{std::move(m)}); }

}  // namespace

EngineSegment::EngineSegment(platform::SharedMemory shm)
    : m_shm(std::move(shm)), m_header(reinterpret_cast<layout::EngineHeader*>(m_shm.data())) {}

Expected<EngineSegment, EngineError> EngineSegment::create(const std::string& base, const Shape& shape) {
  if (shape.num_layers == 0 || shape.num_experts == 0 || shape.num_experts > 65536 || shape.num_layers > 65536)
    return fail("engine segment: layers and experts must be between 1 and 65536");
  if (shape.ring_capacity == 0) return fail("engine segment: ring capacity must be positive");
  if (shape.model_id.size() > sizeof(layout::EngineHeader::model_id)) return fail("engine segment: model id too long");
  const auto o = offsets_for(shape.num_layers, shape.num_experts, shape.ring_capacity);
  auto shm = platform::SharedMemory::create(segment_name(base), o.size, platform::ShmCreate::k_replace);
  if (!shm) return fail("cannot create shared memory " + segment_name(base) + ": " + shm.error().message);
  EngineSegment seg(std::move(shm).value());
  auto* h = seg.m_header;
  h->magic = layout::k_magic;
  h->layout_version = layout::k_version;
  h->header_size = sizeof(layout::EngineHeader);
  h->segment_size = o.size;
  h->num_layers = shape.num_layers;
  h->num_experts = shape.num_experts;
  h->max_top_k = layout::k_max_top_k;
  h->ring_capacity = shape.ring_capacity;
  h->ring_entry_size = sizeof(layout::RingEntry);
  h->counters_offset = o.counters;
  h->ring_offset = o.ring;
  h->holders_offset = o.holders;
  h->model_id_size = static_cast<std::uint32_t>(shape.model_id.size());
  std::memcpy(h->model_id, shape.model_id.data(), shape.model_id.size());
  h->ready.store(1, std::memory_order_release);
  return seg;
}

Expected<EngineSegment, EngineError> EngineSegment::open(const std::string& base) {
  auto shm = platform::SharedMemory::open(segment_name(base), platform::ShmAccess::k_read_write);
  if (!shm) return fail("cannot open shared memory " + segment_name(base) + " (is slimcached running?): " + shm.error().message);
  if (shm->size() < sizeof(layout::EngineHeader)) return fail(segment_name(base) + " is too small");
  EngineSegment seg(std::move(shm).value());
  const auto* h = seg.m_header;
  if (h->ready.load(std::memory_order_acquire) != 1) return fail(segment_name(base) + " is not initialised yet");
  if (h->magic != layout::k_magic) return fail(segment_name(base) + " is not a slimcache engine segment");
  if (h->layout_version != layout::k_version || h->header_size != sizeof(layout::EngineHeader) ||
      h->ring_entry_size != sizeof(layout::RingEntry))
    return fail(segment_name(base) + " has layout version " + std::to_string(h->layout_version) + ", this library " +
                std::to_string(layout::k_version));
  const auto o = offsets_for(h->num_layers, h->num_experts, h->ring_capacity);
  if (o.size != h->segment_size || o.size > seg.m_shm.size() || o.counters != h->counters_offset ||
      o.ring != h->ring_offset || o.holders != h->holders_offset || h->model_id_size > sizeof(h->model_id))
    return fail(segment_name(base) + " has an inconsistent header");
  return seg;
}

void EngineSegment::remove(const std::string& base) { platform::SharedMemory::remove(segment_name(base)); }

std::atomic<std::uint64_t>* EngineSegment::counter_base() const {
  return reinterpret_cast<std::atomic<std::uint64_t>*>(m_shm.data() + m_header->counters_offset);
}

layout::RingEntry* EngineSegment::entry(std::uint64_t ticket) const {
  return reinterpret_cast<layout::RingEntry*>(m_shm.data() + m_header->ring_offset) + ticket % m_header->ring_capacity;
}

layout::HolderTable* EngineSegment::holders() const {
  return reinterpret_cast<layout::HolderTable*>(m_shm.data() + m_header->holders_offset);
}

layout::HolderEntry* EngineSegment::holder_entries() const {
  return reinterpret_cast<layout::HolderEntry*>(m_shm.data() + m_header->holders_offset + sizeof(layout::HolderTable));
}

RecordResult EngineSegment::record(std::uint32_t layer, std::span<const std::uint16_t> experts) noexcept {
  const auto* h = m_header;
  if (layer >= h->num_layers || experts.empty() || experts.size() > layout::k_max_top_k) {
    m_header->dropped.fetch_add(1, std::memory_order_relaxed);
    return RecordResult::k_rejected;
  }
  for (auto e : experts) {
    if (e >= h->num_experts) {
      m_header->dropped.fetch_add(1, std::memory_order_relaxed);
      return RecordResult::k_rejected;
    }
  }
  auto* counters = counter_base() + std::uint64_t{layer} * h->num_experts;
  for (auto e : experts) counters[e].fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t t = m_header->cursor.fetch_add(1, std::memory_order_acq_rel);
  auto* slot = entry(t);
  slot->seq.store(2 * t + 1, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_release);
  slot->layer = static_cast<std::uint16_t>(layer);
  slot->k = static_cast<std::uint16_t>(experts.size());
  std::copy(experts.begin(), experts.end(), slot->ids);
  slot->seq.store(2 * t + 2, std::memory_order_release);
  return RecordResult::k_recorded;
}

std::uint64_t EngineSegment::read_sets(
    std::uint64_t* cursor,
    const std::function<void(std::uint32_t, std::span<const std::uint16_t>)>& sink) const {
  const std::uint64_t end = m_header->cursor.load(std::memory_order_acquire);
  std::uint64_t lost = 0;
  std::uint64_t t = *cursor;
  const std::uint64_t capacity = m_header->ring_capacity;
  if (end > t + capacity) {
    lost += end - capacity - t;
    t = end - capacity;
  }
  std::uint16_t ids[layout::k_max_top_k];
  for (; t < end; ++t) {
    const auto* slot = entry(t);
    const std::uint64_t before = slot->seq.load(std::memory_order_acquire);
    if (before != 2 * t + 2) {
      ++lost;  // still being written, or already overwritten
      continue;
    }
    const std::uint16_t layer = slot->layer;
    const std::uint16_t k = std::min<std::uint16_t>(slot->k, layout::k_max_top_k);
    std::copy(slot->ids, slot->ids + k, ids);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot->seq.load(std::memory_order_relaxed) != before || layer >= m_header->num_layers) {
      ++lost;
      continue;
    }
    sink(layer, {ids, k});
  }
  *cursor = end;
  return lost;
}

std::vector<std::uint64_t> EngineSegment::counters() const {
  const std::size_t n = std::size_t{m_header->num_layers} * m_header->num_experts;
  std::vector<std::uint64_t> out(n);
  const auto* c = counter_base();
  for (std::size_t i = 0; i < n; ++i) out[i] = c[i].load(std::memory_order_relaxed);
  return out;
}

void EngineSegment::publish_holders(const std::vector<NodeAddress>& nodes, const std::vector<HolderInfo>& entries) {
  auto* table = holders();
  auto* rows = holder_entries();
  const std::uint64_t g = table->generation.load(std::memory_order_relaxed);
  table->generation.store(g | 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  table->num_nodes = static_cast<std::uint32_t>(std::min<std::size_t>(nodes.size(), layout::k_max_nodes));
  for (std::uint32_t i = 0; i < table->num_nodes; ++i) {
    auto& dst = table->nodes[i];
    std::memset(&dst, 0, sizeof dst);
    std::memcpy(dst.name, nodes[i].name.data(), std::min<std::size_t>(nodes[i].name.size(), sizeof dst.name - 1));
    std::memcpy(dst.address, nodes[i].address.data(), std::min<std::size_t>(nodes[i].address.size(), sizeof dst.address - 1));
  }
  const std::size_t n = std::size_t{m_header->num_layers} * m_header->num_experts;
  for (std::size_t i = 0; i < n; ++i) {
    layout::HolderEntry row{};
    if (i < entries.size()) {
      row.location = entries[i].location;
      for (auto node : entries[i].holders) {
        if (row.holders == layout::k_max_holders || node >= table->num_nodes) break;
        row.node[row.holders++] = node;
      }
    }
    rows[i] = row;
  }
  std::atomic_thread_fence(std::memory_order_release);
  table->generation.store((g | 1) + 1, std::memory_order_release);
}

bool EngineSegment::locate(std::uint32_t layer, std::uint32_t expert, Location& out) const {
  if (layer >= m_header->num_layers || expert >= m_header->num_experts) return false;
  const auto* table = holders();
  const auto* row = holder_entries() + std::size_t{layer} * m_header->num_experts + expert;
  for (int attempt = 0; attempt < 64; ++attempt) {
    const std::uint64_t g = table->generation.load(std::memory_order_acquire);
    if (g & 1) continue;
    const layout::HolderEntry copy = *row;
    out.where = static_cast<layout::Location>(copy.location);
    out.holders = std::min<std::uint32_t>(copy.holders, layout::k_max_holders);
    const std::uint32_t num_nodes = std::min<std::uint32_t>(table->num_nodes, layout::k_max_nodes);
    for (std::uint32_t i = 0; i < out.holders; ++i) {
      if (copy.node[i] < num_nodes) {
        out.nodes[i] = table->nodes[copy.node[i]];
      } else {
        out.nodes[i] = layout::NodeEntry{};
      }
      out.nodes[i].name[layout::k_node_name_size - 1] = '\0';
      out.nodes[i].address[layout::k_node_address_size - 1] = '\0';
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (table->generation.load(std::memory_order_relaxed) == g) return true;
  }
  return false;
}

}  // namespace slimcache::agent::engine
