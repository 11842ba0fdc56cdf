#pragma once
// The disk tier: experts stored as blobs named by the SHA-256 of their payload.
//
// Layout under the root directory:
//   LOCK                   held while a DiskTier is open (one owner per directory)
//   blobs/<sha256>.blob    header (128 bytes, below) + payload
//   tmp/                   writes in progress; emptied on open
//   quarantine/            blobs that failed verification, kept for inspection, never served
//
// Blob header, little-endian, format version 1:
//   0  "SLIMBLOB"   8  u32 version   12 u32 header size (128)   16 u64 payload size
//   24 u32 layer    28 u32 expert    32 sha256[32] of the payload
//   64 u64 XXH3-64 of the payload    72 u16 model id length      74 model id (<= 38 bytes)
//   112 u64 write sequence (the newest blob of a key wins)       120 u64 XXH3-64 of bytes 0..119
//
// Writes are atomic: tmp file, append, fsync, rename into blobs/, fsync of blobs/. A put that
// returned success survives a crash; a put that failed leaves either the old blob or the new
// one, never a partial one. put_many() does the same for a batch with one fsync of blobs/:
// every blob's tmp file is written and fsynced, then all are renamed, then blobs/ is synced
// once, and only then does any of them enter the index (is served or counted). SHA-256 is computed on every write (it is the identity); reads
// verify the XXH3 checksum and quarantine a blob that fails (k_corrupt). On open the index is
// rebuilt from blobs/: every blob's header is checked and its payload verified (XXH3, or
// XXH3 and SHA-256 with VerifyMode::k_full); failures are moved to quarantine/ and reported.
// The budget counts whole files (header + payload); a put over it fails with
// k_budget_exceeded, a full file system with k_disk_full. Thread-safe (one mutex; I/O is
// done under it, one operation at a time).
#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/cache/cache_error.hpp"
#include "platform/env.hpp"

namespace slimcache::agent::cache {

struct ExpertKey {
  std::string model;
  std::uint32_t layer = 0;
  std::uint32_t expert = 0;
  auto operator<=>(const ExpertKey&) const = default;
  [[nodiscard]] std::string to_string() const;
};

using Sha256 = std::array<std::uint8_t, 32>;
[[nodiscard]] std::string to_hex(const Sha256& digest);
[[nodiscard]] Sha256 sha256_of(std::span<const std::byte> data);

struct BlobInfo {
  ExpertKey key;
  Sha256 sha256{};
  std::uint64_t xxh3 = 0;
  std::uint64_t payload_size = 0;
  std::uint64_t sequence = 0;
  std::string path;
  [[nodiscard]] std::uint64_t file_size() const;
};

struct QuarantineRecord {
  std::string file;    // where it was (blobs/...)
  std::string moved_to;  // quarantine/... (empty if the move failed)
  std::string reason;
};

struct DiskOpenReport {
  std::size_t blobs = 0;
  std::uint64_t bytes = 0;
  std::size_t temporaries_removed = 0;
  std::size_t superseded_removed = 0;  // older blobs of a key that has a newer one
  std::vector<QuarantineRecord> quarantined;
};

enum class VerifyMode { k_fast, k_full };

struct DiskTierOptions {
  std::string root;
  std::uint64_t budget_bytes = 0;
  VerifyMode verify_on_open = VerifyMode::k_fast;
};

inline constexpr std::size_t k_blob_header_size = 128;
inline constexpr std::uint32_t k_blob_format_version = 1;
inline constexpr std::size_t k_max_model_id = 38;

struct PutItem {
  ExpertKey key;
  std::span<const std::byte> payload;
};

class DiskTier {
 public:
  [[nodiscard]] static Expected<std::unique_ptr<DiskTier>, CacheError> open(platform::Env& env, DiskTierOptions options);

  [[nodiscard]] const DiskOpenReport& open_report() const { return m_report; }
  // Stores (or replaces) the expert. Idempotent for identical content.
  [[nodiscard]] Expected<BlobInfo, CacheError> put(const ExpertKey& key, std::span<const std::byte> payload);
  // A batch of puts with one directory sync (above). All or nothing: on failure no blob of
  // the batch is in the index (renamed files are removed again; a crash in between leaves,
  // per key, the old blob or the new one) and the error names the expert. Items whose key
  // already holds the same content are kept as they are. The budget is checked for the
  // whole batch up front; two items of one key or of one content are invalid_argument.
  [[nodiscard]] Expected<std::vector<BlobInfo>, CacheError> put_many(std::span<const PutItem> items);
  [[nodiscard]] Expected<std::vector<std::byte>, CacheError> read(const ExpertKey& key);
  // Reads the payload into `dest` (at least payload_size bytes), verifying XXH3.
  [[nodiscard]] Expected<std::size_t, CacheError> read_into(const ExpertKey& key, std::span<std::byte> dest);
  [[nodiscard]] Expected<void, CacheError> remove(const ExpertKey& key);
  // Moves the blob to quarantine/ and forgets it.
  [[nodiscard]] Expected<void, CacheError> quarantine(const ExpertKey& key, const std::string& reason);

  [[nodiscard]] std::optional<BlobInfo> find(const ExpertKey& key) const;
  // O(blobs) without copying the index (inventory() copies every record).
  [[nodiscard]] std::optional<BlobInfo> find_by_sha256(const Sha256& digest) const;
  // Calls fn for every blob under the tier's lock: fn must not call back into the tier.
  void for_each(const std::function<void(const BlobInfo&)>& fn) const;
  [[nodiscard]] std::vector<BlobInfo> inventory() const;
  [[nodiscard]] std::uint64_t used_bytes() const;
  [[nodiscard]] std::uint64_t budget_bytes() const { return m_options.budget_bytes; }
  // Quarantine records since open (the open report's included).
  [[nodiscard]] std::vector<QuarantineRecord> quarantined() const;

 private:
  DiskTier(platform::Env& env, DiskTierOptions options) : m_env(env), m_options(std::move(options)) {}
  Expected<void, CacheError> rebuild();
  Expected<void, CacheError> quarantine_file_locked(const std::string& name, const std::string& reason);
  Expected<void, CacheError> read_payload_locked(const BlobInfo& info, std::span<std::byte> dest);
  [[nodiscard]] std::string blobs_dir() const;

  platform::Env& m_env;
  DiskTierOptions m_options;
  std::unique_ptr<platform::FileLock> m_lock;
  mutable std::mutex m_mutex;
  std::map<ExpertKey, BlobInfo> m_index;
  std::uint64_t m_used = 0;
  std::uint64_t m_next_sequence = 1;
  std::uint64_t m_tmp_counter = 0;
  DiskOpenReport m_report;
  std::vector<QuarantineRecord> m_quarantined;
};

}  // namespace slimcache::agent::cache
