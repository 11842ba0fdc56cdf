#pragma once
// BlobStore over the cache's disk tier (agent/cache/disk_tier.hpp), so verified transfers
// land directly in the tier.
//
// The disk tier names blobs by expert key and records their SHA-256; the transfer names them
// by SHA-256. The owner supplies `key_of(id)`: which expert a blob id holds (from the
// placement directory). Reading: the blob is served only if the tier holds that key with
// exactly that SHA-256. Writing: partials are staged in a DirectoryBlobStore (so they survive
// restarts); finish() verifies SHA-256 there, then puts the payload into the tier (atomic,
// budget-checked: k_io with the tier's message when it refuses) and drops the staged copy.
// begin() fails with k_invalid_argument when key_of does not know the id.
//
// The tier can also be reached through TierAccess functions (the daemon's CacheService, which
// owns the tier inside its CacheManager and serialises access to it): find, read and put.
//
// Small blobs (at most k_memory_stage_bytes, with no partial on disk) are staged in memory
// instead: no staging files are created, synced or deleted (on this kind of blob, file
// creation and deletion cost more than the transfer); they are verified the same way before
// the put, and a disconnect drops them (a refetch is one round trip).
//
// Reads load the whole payload once and keep the most recent blob in memory (experts are
// served chunk by chunk, in order); memory use is one expert per adapter.
// Threads: thread-safe (one mutex around the cache; the tier and staging are thread-safe).
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "agent/cache/disk_tier.hpp"
#include "agent/transfer/directory_blob_store.hpp"

namespace slimcache::agent::transfer {

class DiskTierBlobStore final : public BlobStore {
 public:
  static constexpr std::uint64_t k_memory_stage_bytes = 4ull << 20;
  using KeyOf = std::function<std::optional<cache::ExpertKey>(const BlobId&)>;
  struct TierAccess {
    std::function<std::optional<cache::BlobInfo>(const cache::ExpertKey&)> find;
    std::function<Expected<std::vector<std::byte>, cache::CacheError>(const cache::ExpertKey&)> read;
    std::function<Expected<void, cache::CacheError>(const cache::ExpertKey&, std::span<const std::byte>)> put;
  };
  DiskTierBlobStore(cache::DiskTier& tier, DirectoryBlobStore& staging, KeyOf key_of);
  DiskTierBlobStore(TierAccess tier, DirectoryBlobStore& staging, KeyOf key_of);

  [[nodiscard]] bool has(const BlobId& id) const override;
  [[nodiscard]] std::optional<std::uint64_t> size(const BlobId& id) const override;
  [[nodiscard]] Expected<std::size_t, TransferError> read(const BlobId& id, std::uint64_t offset,
                                                          std::span<std::byte> dest) const override;
  [[nodiscard]] std::uint64_t partial_size(const BlobId& id) const override;
  [[nodiscard]] Expected<std::uint64_t, TransferError> begin(const BlobId& id, std::uint64_t expected_size) override;
  [[nodiscard]] Expected<void, TransferError> append(const BlobId& id, std::span<const std::byte> bytes) override;
  [[nodiscard]] Expected<void, TransferError> finish(const BlobId& id) override;
  void abort(const BlobId& id, PartialMode mode) override;

 private:
  [[nodiscard]] std::optional<cache::BlobInfo> info(const BlobId& id) const;

  TierAccess m_tier;
  DirectoryBlobStore& m_staging;
  KeyOf m_key_of;
  struct MemoryStage {
    std::uint64_t expected = 0;
    std::vector<std::byte> bytes;
    Sha256Stream hash;
  };
  mutable std::mutex m_mutex;
  std::map<BlobId, MemoryStage> m_in_memory;  // small blobs being received
  mutable std::optional<BlobId> m_cached_id;
  mutable std::shared_ptr<const std::vector<std::byte>> m_cached;
};

}  // namespace slimcache::agent::transfer
