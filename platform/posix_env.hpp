#pragma once
// Env on POSIX (Linux): open/pwrite/fsync/rename, fsync of the directory for names,
// flock for locks (released by the kernel when the holder dies), mmap for mappings.
// errno is mapped to EnvErrc (ENOSPC and EDQUOT -> k_no_space). Thread-safe (stateless).
#include "platform/env.hpp"

namespace slimcache::platform {

class PosixEnv final : public Env {
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

  // A process-wide instance.
  static PosixEnv& instance();
};

}  // namespace slimcache::platform
