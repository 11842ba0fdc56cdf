#include "platform/fault_injection_env.hpp"

namespace slimcache::platform {

namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv& env, std::string path, std::unique_ptr<WritableFile> base)
      : m_env(env), m_path(std::move(path)), m_base(std::move(base)) {}
  EnvResult<void> append(std::span<const std::byte> data) override {
    auto ok = m_env.check(m_path, "append");
    if (!ok) {
      (void)m_base->append(data.first(data.size() / 2));  // torn: half of it made it
      return ok;
    }
    return m_base->append(data);
  }
  EnvResult<void> sync() override {
    SLIM_TRY_VOID(m_env.check(m_path, "sync"));
    return m_base->sync();
  }
  EnvResult<void> close() override {
    SLIM_TRY_VOID(m_env.check(m_path, "close"));
    return m_base->close();
  }

 private:
  FaultInjectionEnv& m_env;
  std::string m_path;
  std::unique_ptr<WritableFile> m_base;
};

class FaultReadableFile final : public ReadableFile {
 public:
  FaultReadableFile(FaultInjectionEnv& env, std::string path, std::unique_ptr<ReadableFile> base)
      : m_env(env), m_path(std::move(path)), m_base(std::move(base)) {}
  EnvResult<std::uint64_t> size() const override {
    SLIM_TRY_VOID(m_env.check(m_path, "fstat"));
    return m_base->size();
  }
  EnvResult<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    SLIM_TRY_VOID(m_env.check(m_path, "pread"));
    return m_base->read_at(offset, out);
  }

 private:
  FaultInjectionEnv& m_env;
  std::string m_path;
  std::unique_ptr<ReadableFile> m_base;
};

}  // namespace

void FaultInjectionEnv::fail_from(std::uint64_t call, EnvErrc code) {
  m_code = code;
  m_persistent = true;
  m_fail_at = call;
}

void FaultInjectionEnv::fail_once(std::uint64_t call, EnvErrc code) {
  m_code = code;
  m_persistent = false;
  m_fail_at = call;
}

void FaultInjectionEnv::clear_faults() { m_fail_at = k_never; }

EnvResult<void> FaultInjectionEnv::check(const std::string& path, const char* op) {
  const std::uint64_t n = m_calls.fetch_add(1);
  const std::uint64_t at = m_fail_at.load();
  if (n == at || (m_persistent.load() && n > at)) {
    return Unexpected(EnvError{m_code.load(), path, std::string(op) + ": injected fault at call " + std::to_string(n)});
  }
  return {};
}

EnvResult<std::unique_ptr<WritableFile>> FaultInjectionEnv::new_writable_file(const std::string& path) {
  SLIM_TRY_VOID(check(path, "open for writing"));
  SLIM_TRY(auto file, m_base.new_writable_file(path));
  return std::unique_ptr<WritableFile>(std::make_unique<FaultWritableFile>(*this, path, std::move(file)));
}

EnvResult<std::unique_ptr<ReadableFile>> FaultInjectionEnv::new_readable_file(const std::string& path) {
  SLIM_TRY_VOID(check(path, "open for reading"));
  SLIM_TRY(auto file, m_base.new_readable_file(path));
  return std::unique_ptr<ReadableFile>(std::make_unique<FaultReadableFile>(*this, path, std::move(file)));
}

EnvResult<std::unique_ptr<MappedFile>> FaultInjectionEnv::map_file(const std::string& path) {
  SLIM_TRY_VOID(check(path, "mmap"));
  return m_base.map_file(path);
}

bool FaultInjectionEnv::file_exists(const std::string& path) {
  if (!check(path, "access")) return false;
  return m_base.file_exists(path);
}

EnvResult<std::uint64_t> FaultInjectionEnv::file_size(const std::string& path) {
  SLIM_TRY_VOID(check(path, "stat"));
  return m_base.file_size(path);
}

EnvResult<std::vector<std::string>> FaultInjectionEnv::list_dir(const std::string& dir) {
  SLIM_TRY_VOID(check(dir, "opendir"));
  return m_base.list_dir(dir);
}

EnvResult<void> FaultInjectionEnv::create_dir(const std::string& dir) {
  SLIM_TRY_VOID(check(dir, "mkdir"));
  return m_base.create_dir(dir);
}

EnvResult<void> FaultInjectionEnv::remove_file(const std::string& path) {
  SLIM_TRY_VOID(check(path, "unlink"));
  return m_base.remove_file(path);
}

EnvResult<void> FaultInjectionEnv::rename_file(const std::string& from, const std::string& to) {
  SLIM_TRY_VOID(check(from, "rename"));
  return m_base.rename_file(from, to);
}

EnvResult<void> FaultInjectionEnv::sync_dir(const std::string& dir) {
  SLIM_TRY_VOID(check(dir, "fsync directory"));
  return m_base.sync_dir(dir);
}

EnvResult<std::unique_ptr<FileLock>> FaultInjectionEnv::lock_file(const std::string& path) {
  SLIM_TRY_VOID(check(path, "flock"));
  return m_base.lock_file(path);
}

}  // namespace slimcache::platform
