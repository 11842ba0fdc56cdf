#include "agent/transfer/disk_tier_blob_store.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace slimcache::agent::transfer {

DiskTierBlobStore::DiskTierBlobStore(cache::DiskTier& tier, DirectoryBlobStore& staging, KeyOf key_of)
    : DiskTierBlobStore(
          TierAccess{[&tier](const cache::ExpertKey& key) { return tier.find(key); },
                     [&tier](const cache::ExpertKey& key) { return tier.read(key); },
                     [&tier](const cache::ExpertKey& key,
                             std::span<const std::byte> payload) -> Expected<void, cache::CacheError> {
                       SLIM_TRY_VOID(tier.put(key, payload));
                       return {};
                     }},
          staging, std::move(key_of)) {}

DiskTierBlobStore::DiskTierBlobStore(TierAccess tier, DirectoryBlobStore& staging, KeyOf key_of)
    : m_tier(std::move(tier)), m_staging(staging), m_key_of(std::move(key_of)) {}

std::optional<cache::BlobInfo> DiskTierBlobStore::info(const BlobId& id) const {
  const auto key = m_key_of(id);
  if (!key) return std::nullopt;
  auto found = m_tier.find(*key);
  if (!found || found->sha256 != id.bytes) return std::nullopt;
  return found;
}

bool DiskTierBlobStore::has(const BlobId& id) const { return info(id).has_value(); }

std::optional<std::uint64_t> DiskTierBlobStore::size(const BlobId& id) const {
  auto found = info(id);
  if (!found) return std::nullopt;
  return found->payload_size;
}

Expected<std::size_t, TransferError> DiskTierBlobStore::read(const BlobId& id, std::uint64_t offset,
                                                             std::span<std::byte> dest) const {
  std::shared_ptr<const std::vector<std::byte>> payload;
  {
    std::lock_guard lock(m_mutex);
    if (m_cached_id == id) payload = m_cached;
  }
  if (!payload) {
    auto found = info(id);
    if (!found) return Unexpected(TransferError{TransferErrc::k_not_found, "no blob " + id.hex() + " in the disk tier"});
    auto bytes = m_tier.read(found->key);
    if (!bytes) return Unexpected(TransferError{TransferErrc::k_io, "disk tier: " + bytes.error().message});
    payload = std::make_shared<const std::vector<std::byte>>(std::move(bytes).value());
    std::lock_guard lock(m_mutex);
    m_cached_id = id;
    m_cached = payload;
  }
  if (offset >= payload->size()) return std::size_t{0};
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(dest.size(), payload->size() - offset));
  std::memcpy(dest.data(), payload->data() + offset, n);
  return n;
}

std::uint64_t DiskTierBlobStore::partial_size(const BlobId& id) const {
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_in_memory.find(id); it != m_in_memory.end()) return it->second.bytes.size();
  }
  return m_staging.partial_size(id);
}

Expected<std::uint64_t, TransferError> DiskTierBlobStore::begin(const BlobId& id, std::uint64_t expected_size) {
  if (!m_key_of(id)) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "blob " + id.hex() + " is not a known expert"});
  }
  if (expected_size <= k_memory_stage_bytes && m_staging.partial_size(id) == 0) {
    std::lock_guard lock(m_mutex);
    auto [it, fresh] = m_in_memory.try_emplace(id);
    if (!fresh) return Unexpected(TransferError{TransferErrc::k_busy, "blob " + id.hex() + " is already being written"});
    it->second.expected = expected_size;
    it->second.bytes.reserve(static_cast<std::size_t>(expected_size));
    return std::uint64_t{0};
  }
  return m_staging.begin(id, expected_size);
}

Expected<void, TransferError> DiskTierBlobStore::append(const BlobId& id, std::span<const std::byte> bytes) {
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_in_memory.find(id); it != m_in_memory.end()) {
      MemoryStage& stage = it->second;
      if (bytes.size() > stage.expected - stage.bytes.size()) {
        return Unexpected(TransferError{TransferErrc::k_protocol, "more bytes than the announced size"});
      }
      stage.bytes.insert(stage.bytes.end(), bytes.begin(), bytes.end());
      stage.hash.update(bytes);
      return {};
    }
  }
  return m_staging.append(id, bytes);
}

Expected<void, TransferError> DiskTierBlobStore::finish(const BlobId& id) {
  std::vector<std::byte> payload;
  bool in_memory = false;
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_in_memory.find(id); it != m_in_memory.end()) {
      MemoryStage stage = std::move(it->second);
      m_in_memory.erase(it);
      in_memory = true;
      if (stage.bytes.size() != stage.expected) {
        return Unexpected(TransferError{TransferErrc::k_protocol, "blob is incomplete: " + std::to_string(stage.bytes.size()) +
                                                                      " of " + std::to_string(stage.expected) + " bytes"});
      }
      if (const BlobId got = stage.hash.digest(); got != id) {
        return Unexpected(TransferError{TransferErrc::k_verify_failed,
                                        "SHA-256 of the received bytes is " + got.hex() + ", expected " + id.hex()});
      }
      payload = std::move(stage.bytes);
    }
  }
  if (!in_memory) {
    // Verifies SHA-256 (a mismatch discards the partial) and hands the bytes over without a
    // sync in staging: the tier's put makes them durable before they are served.
    SLIM_TRY(payload, m_staging.take(id));
  }
  const auto key = m_key_of(id);
  if (!key) return Unexpected(TransferError{TransferErrc::k_invalid_argument, "blob " + id.hex() + " is no longer a known expert"});
  auto put = m_tier.put(*key, payload);
  if (!put) {
    const auto code = put.error().code == cache::CacheErrc::k_disk_full ? TransferErrc::k_no_space : TransferErrc::k_io;
    return Unexpected(TransferError{code, "disk tier: " + put.error().message});
  }
  return {};
}

void DiskTierBlobStore::abort(const BlobId& id, PartialMode mode) {
  {
    std::lock_guard lock(m_mutex);
    if (m_in_memory.erase(id) > 0) return;  // small: refetched from the start
  }
  m_staging.abort(id, mode);
}

}  // namespace slimcache::agent::transfer
