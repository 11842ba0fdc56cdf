#pragma once
// A named POSIX shared-memory object (/dev/shm/<name>) mapped into this process, through
// Boost.Interprocess. The creator maps it read-write; other processes map it read-only or
// read-write. Unmapped on destruction; the name lives on until remove() (or reboot), so a
// reader can still open it after the creator died. Boost exceptions are caught here and
// returned as EnvError. Not thread-safe to move while in use; the mapping itself may be shared.
#include <cstddef>
#include <memory>
#include <string>

#include "platform/env.hpp"

namespace slimcache::platform {

enum class ShmAccess { k_read_only, k_read_write };
enum class ShmCreate { k_new_only, k_replace };  // k_replace removes a stale object first

class SharedMemory {
 public:
  SharedMemory();
  SharedMemory(SharedMemory&&) noexcept;
  SharedMemory& operator=(SharedMemory&&) noexcept;
  ~SharedMemory();

  // Creates `name` (no leading slash) of `size` bytes, zero-filled, mapped read-write.
  [[nodiscard]] static EnvResult<SharedMemory> create(const std::string& name, std::size_t size, ShmCreate mode);
  [[nodiscard]] static EnvResult<SharedMemory> open(const std::string& name, ShmAccess access);
  // true if it existed.
  static bool remove(const std::string& name);

  [[nodiscard]] std::byte* data() const { return m_data; }
  [[nodiscard]] std::size_t size() const { return m_size; }
  [[nodiscard]] bool writable() const { return m_writable; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::byte* m_data = nullptr;
  std::size_t m_size = 0;
  bool m_writable = false;
};

}  // namespace slimcache::platform
