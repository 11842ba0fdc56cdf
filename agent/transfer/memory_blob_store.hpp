#pragma once
// BlobStore in memory, for tests and benchmarks. Partials live as long as the store, so a
// client "restart" over the same store resumes. put() adds a complete blob (verified);
// put_unverified() stores bytes under any id, to play a peer serving tampered data.
// Thread-safe (one mutex).
#include <map>
#include <mutex>
#include <vector>

#include "agent/transfer/blob_store.hpp"

namespace slimcache::agent::transfer {

class MemoryBlobStore final : public BlobStore {
 public:
  BlobId put(std::vector<std::byte> bytes);
  void put_unverified(const BlobId& id, std::vector<std::byte> bytes);
  // A copy of a complete blob (empty when absent).
  [[nodiscard]] std::vector<std::byte> contents(const BlobId& id) const;

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
  struct Partial {
    std::uint64_t expected = 0;
    std::vector<std::byte> bytes;
    Sha256Stream hash;
    bool open = false;
  };
  mutable std::mutex m_mutex;
  std::map<BlobId, std::vector<std::byte>> m_blobs;
  std::map<BlobId, Partial> m_partials;
};

}  // namespace slimcache::agent::transfer
