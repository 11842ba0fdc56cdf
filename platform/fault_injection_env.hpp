#pragma once
// An Env that forwards to a MemEnv and can fail any call, for crash tests (leveldb's
// fault_injection_test). Every call through it, including appends, syncs, closes and reads on
// the files it opened, gets a number (0, 1, 2, ...). fail_from(n) makes call n and every later
// call fail, as if the process died there; fail_once(n) fails only call n. A failed append
// first writes a prefix of its data (a torn write). power_loss() then drops what was not
// synced (MemEnv::power_loss), and clear_faults() lets the "restarted" process in.
// Thread-safe (the counter is atomic; MemEnv has its own mutex).
#include <atomic>
#include <cstdint>

#include "platform/mem_env.hpp"

namespace slimcache::platform {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(MemEnv& base) : m_base(base) {}

  void fail_from(std::uint64_t call, EnvErrc code = EnvErrc::k_io);
  void fail_once(std::uint64_t call, EnvErrc code = EnvErrc::k_io);
  void clear_faults();
  [[nodiscard]] std::uint64_t calls() const { return m_calls.load(); }
  void power_loss(PowerLossMode mode = PowerLossMode::k_drop_unsynced, std::uint64_t seed = 1) {
    m_base.power_loss(mode, seed);
  }
  // Call number of the next call, and whether it is to fail (used by the wrapped files).
  [[nodiscard]] EnvResult<void> check(const std::string& path, const char* op);

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

 private:
  static constexpr std::uint64_t k_never = ~std::uint64_t{0};
  MemEnv& m_base;
  std::atomic<std::uint64_t> m_calls{0};
  std::atomic<std::uint64_t> m_fail_at{k_never};
  std::atomic<bool> m_persistent{true};
  std::atomic<EnvErrc> m_code{EnvErrc::k_io};
};

}  // namespace slimcache::platform
