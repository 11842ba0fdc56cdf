#pragma once
// Where transferred blobs live: the seam between the transfer subsystem and storage.
//
// Reading (the serving side): has, size, read. Writing (the receiving side) is a partial
// write that survives disconnects: begin(id, expected_size) returns the offset to resume
// from (the bytes of a kept partial, 0 for a new one; a partial of another expected size is
// discarded), append adds the next bytes, finish verifies SHA-256 over the whole blob
// against the id and only then makes it visible to has/read; on a mismatch the partial is
// discarded and finish fails with k_verify_failed. abort ends the write, keeping the partial
// for a later resume (PartialMode::k_keep) or discarding it.
//
// One writer per id at a time: a second begin for an id being written fails with k_busy.
// Implementations are thread-safe (reads may run concurrently with writes of other ids).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "agent/transfer/blob_id.hpp"
#include "agent/transfer/transfer_error.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::transfer {

enum class PartialMode { k_keep, k_discard };

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  [[nodiscard]] virtual bool has(const BlobId& id) const = 0;
  // The size of a complete blob, nullopt when absent.
  [[nodiscard]] virtual std::optional<std::uint64_t> size(const BlobId& id) const = 0;
  // Reads up to dest.size() bytes from `offset`; returns the count (0 at the end).
  [[nodiscard]] virtual Expected<std::size_t, TransferError> read(const BlobId& id, std::uint64_t offset,
                                                                  std::span<std::byte> dest) const = 0;

  // Bytes held for an unfinished blob (0 when none).
  [[nodiscard]] virtual std::uint64_t partial_size(const BlobId& id) const = 0;
  [[nodiscard]] virtual Expected<std::uint64_t, TransferError> begin(const BlobId& id, std::uint64_t expected_size) = 0;
  // Fails with k_protocol if the bytes would exceed the expected size.
  [[nodiscard]] virtual Expected<void, TransferError> append(const BlobId& id, std::span<const std::byte> bytes) = 0;
  [[nodiscard]] virtual Expected<void, TransferError> finish(const BlobId& id) = 0;
  virtual void abort(const BlobId& id, PartialMode mode) = 0;
};

}  // namespace slimcache::agent::transfer
