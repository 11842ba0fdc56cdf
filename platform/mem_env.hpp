#pragma once
// An in-memory Env with a durability model, for tests (leveldb's memenv plus the bookkeeping
// of its fault-injection test). It keeps two views of the namespace: the current one, and the
// durable one that sync_dir() updates for the names in that directory; each file keeps its
// current bytes and the bytes last synced. power_loss() turns the durable state into the
// current one, as a machine that lost power and rebooted would see it:
//   - names created, renamed or removed since the last sync_dir of their directory revert;
//   - file contents revert to what was last synced (or, with k_torn_writes, keep a random
//     prefix of what was appended since, like a torn write);
//   - every lock is released (its holder died).
// Directories are durable as soon as they are created (a simplification: say so in tests
// that depend on it). An optional capacity makes appends fail with k_no_space.
// Thread-safe (one mutex). Files and locks must not outlive the MemEnv.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "platform/env.hpp"

namespace slimcache::platform {

enum class PowerLossMode { k_drop_unsynced, k_torn_writes };

class MemEnv final : public Env {
 public:
  EnvResult<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path) override;
  EnvResult<std::unique_ptr<ReadableFile>> new_readable_file(const std::string& path) override;
  EnvResult<std::unique_ptr<MappedFile>> map_file(const std::string& path) override;
  bool file_exists(const std::string& path) override;
  EnvResult<std::uint64_t> file_size(const std::string& path) override;
  EnvResult<std::vector<std::string>> list_dir(const std::string& dir) override;
  EnvResult<void> create_dir(const std::string& dir) override;
  EnvResult<void> remove_file(const std::string& path) override;
  EnvResult<void> rename_file(const std::string& from, const std::string& to) override;
  EnvResult<void> sync_dir(const std::string& dir) override;
  EnvResult<std::unique_ptr<FileLock>> lock_file(const std::string& path) override;

  // Total bytes of all current files may not exceed `bytes` (nullopt: unlimited).
  void set_capacity(std::optional<std::uint64_t> bytes);
  void power_loss(PowerLossMode mode = PowerLossMode::k_drop_unsynced, std::uint64_t seed = 1);
  // Test helper: flips the bits of one byte of a file, durably (bit rot).
  [[nodiscard]] bool corrupt_byte(const std::string& path, std::uint64_t offset);

  struct Inode {
    std::vector<std::byte> data;
    std::vector<std::byte> synced;
  };

 private:
  friend class MemWritableFile;
  friend class MemFileLock;
  [[nodiscard]] std::uint64_t used_bytes_locked() const;
  mutable std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<Inode>> m_files;
  std::map<std::string, std::shared_ptr<Inode>> m_durable;
  std::set<std::string> m_dirs{".", "/"};
  std::set<std::string> m_locks;
  std::optional<std::uint64_t> m_capacity;
};

}  // namespace slimcache::platform
