#pragma once
// BlobStore over a directory, keeping partial blobs across restarts.
//
// Layout under the root:
//   blobs/<id hex>            complete, verified blobs (read-only after the rename)
//   partial/<id hex>.part     bytes received so far (appended, fdatasync'd every append
//                             batch of 16 MiB and on abort)
//   partial/<id hex>.size     the expected size, decimal text (synced with the .part's
//                             first sync: a partial never synced is not worth resuming)
// begin() on an existing partial of the same expected size resumes from the .part's size
// and rehashes the bytes already there (one sequential read). finish() compares the
// running SHA-256 with the id, then fsyncs and renames into blobs/ (fsync of blobs/).
// take() is finish() for a caller that stores the blob elsewhere (the disk tier): it
// verifies SHA-256 the same way, then hands the bytes over and removes the partial, with
// no fsync here (the caller makes the bytes durable where they stay).
// A crash may leave a .part with an unsynced tail; the whole-blob SHA-256 check catches
// a wrong tail and the partial is then discarded and fetched again.
//
// Threads: thread-safe (one mutex for the bookkeeping; reads use pread on their own fd).
// Ownership: one DirectoryBlobStore per directory (not enforced with a lock file).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/transfer/blob_store.hpp"

namespace slimcache::agent::transfer {

class DirectoryBlobStore final : public BlobStore {
 public:
  // Creates blobs/ and partial/ under `root` if needed. Fails with k_io.
  [[nodiscard]] static Expected<std::unique_ptr<DirectoryBlobStore>, TransferError> open(std::string root);
  ~DirectoryBlobStore() override;
  DirectoryBlobStore(const DirectoryBlobStore&) = delete;
  DirectoryBlobStore& operator=(const DirectoryBlobStore&) = delete;

  [[nodiscard]] bool has(const BlobId& id) const override;
  [[nodiscard]] std::optional<std::uint64_t> size(const BlobId& id) const override;
  [[nodiscard]] Expected<std::size_t, TransferError> read(const BlobId& id, std::uint64_t offset,
                                                          std::span<std::byte> dest) const override;
  [[nodiscard]] std::uint64_t partial_size(const BlobId& id) const override;
  [[nodiscard]] Expected<std::uint64_t, TransferError> begin(const BlobId& id, std::uint64_t expected_size) override;
  [[nodiscard]] Expected<void, TransferError> append(const BlobId& id, std::span<const std::byte> bytes) override;
  [[nodiscard]] Expected<void, TransferError> finish(const BlobId& id) override;
  void abort(const BlobId& id, PartialMode mode) override;
  [[nodiscard]] Expected<std::vector<std::byte>, TransferError> take(const BlobId& id);

  [[nodiscard]] std::string blob_path(const BlobId& id) const;
  [[nodiscard]] std::string partial_path(const BlobId& id) const;

 private:
  explicit DirectoryBlobStore(std::string root) : m_root(std::move(root)) {}
  struct Writer {
    int fd = -1;
    std::uint64_t expected = 0;
    std::uint64_t written = 0;
    std::uint64_t unsynced = 0;
    bool size_synced = false;
    Sha256Stream hash;
  };
  void discard_locked(const BlobId& id);
  void sync_partial_locked(const BlobId& id, Writer& w);
  // The writer of `id` once all its bytes arrived and their SHA-256 is `id`. On failure the
  // writer is closed, and a wrong hash also discards the partial. `what` names the caller.
  Expected<std::map<BlobId, Writer>::iterator, TransferError> complete_writer_locked(const BlobId& id, const char* what);

  std::string m_root;
  mutable std::mutex m_mutex;
  std::map<BlobId, Writer> m_writers;
};

}  // namespace slimcache::agent::transfer
