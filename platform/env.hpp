#pragma once
// The injected operating-system interface for files (leveldb's Env): everything in the cache
// that touches storage takes an Env&, so tests run on MemEnv (in memory, with a durability
// model) and FaultInjectionEnv (fails any call, drops unsynced data on a simulated power loss).
//
// Paths are '/'-separated strings. Durability contract (what PosixEnv gives on Linux and what
// MemEnv models): file data is durable once WritableFile::sync() returned success; a created,
// renamed or removed name is durable once sync_dir() of its directory returned success.
// rename_file() atomically replaces the target. Every call returns an EnvError rather than
// throwing. Env implementations are thread-safe; file objects are used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "solver/expected.hpp"

namespace slimcache::platform {

enum class EnvErrc {
  k_not_found,   // ENOENT
  k_exists,      // EEXIST
  k_no_space,    // ENOSPC, EDQUOT: the file system is full
  k_permission,  // EACCES, EPERM, EROFS
  k_locked,      // the lock is held by another holder
  k_invalid,     // a bad argument (e.g. reading past the end)
  k_io,          // anything else (EIO, an injected fault)
};

struct EnvError {
  EnvErrc code = EnvErrc::k_io;
  std::string path;
  std::string message;
  [[nodiscard]] std::string to_string() const { return path + ": " + message; }
};

template <typename T>
using EnvResult = Expected<T, EnvError>;

class WritableFile {
 public:
  virtual ~WritableFile() = default;  // closes (without syncing) if still open
  [[nodiscard]] virtual EnvResult<void> append(std::span<const std::byte> data) = 0;
  [[nodiscard]] virtual EnvResult<void> sync() = 0;  // data and size durable
  [[nodiscard]] virtual EnvResult<void> close() = 0;
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  [[nodiscard]] virtual EnvResult<std::uint64_t> size() const = 0;
  // Reads up to out.size() bytes at `offset`; returns how many (fewer only at end of file).
  [[nodiscard]] virtual EnvResult<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) const = 0;
};

// A read-only view of a whole file; valid until destroyed.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  [[nodiscard]] virtual std::span<const std::byte> bytes() const = 0;
};

// An exclusive advisory lock, released on destruction (or when the holder process dies).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  // Creates or truncates.
  [[nodiscard]] virtual EnvResult<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path) = 0;
  [[nodiscard]] virtual EnvResult<std::unique_ptr<ReadableFile>> new_readable_file(const std::string& path) = 0;
  [[nodiscard]] virtual EnvResult<std::unique_ptr<MappedFile>> map_file(const std::string& path) = 0;
  [[nodiscard]] virtual bool file_exists(const std::string& path) = 0;
  [[nodiscard]] virtual EnvResult<std::uint64_t> file_size(const std::string& path) = 0;
  // Names (not paths) of the regular files in `dir`, sorted.
  [[nodiscard]] virtual EnvResult<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  // Creates `dir` and its missing parents; success if it exists.
  [[nodiscard]] virtual EnvResult<void> create_dir(const std::string& dir) = 0;
  [[nodiscard]] virtual EnvResult<void> remove_file(const std::string& path) = 0;
  [[nodiscard]] virtual EnvResult<void> rename_file(const std::string& from, const std::string& to) = 0;
  [[nodiscard]] virtual EnvResult<void> sync_dir(const std::string& dir) = 0;
  // Non-blocking: k_locked when another holder has it.
  [[nodiscard]] virtual EnvResult<std::unique_ptr<FileLock>> lock_file(const std::string& path) = 0;

  // Helpers built on the calls above.
  [[nodiscard]] EnvResult<std::vector<std::byte>> read_file(const std::string& path);
  // Writes `data` to `path` atomically and durably: temporary file, sync, rename, sync_dir.
  [[nodiscard]] EnvResult<void> write_file_atomic(const std::string& path, std::span<const std::byte> data);
};

// "a/b/c" -> "a/b"; "c" -> ".".
[[nodiscard]] std::string parent_dir(const std::string& path);
[[nodiscard]] std::string join_path(const std::string& dir, const std::string& name);

}  // namespace slimcache::platform
