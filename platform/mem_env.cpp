#include "platform/mem_env.hpp"

#include <algorithm>
#include <cstring>
#include <random>

namespace slimcache::platform {

namespace {
Unexpected<EnvError> fail(EnvErrc code, const std::string& path, std::string what) {
  return Unexpected(EnvError{code, path, std::move(what)});
}
}  // namespace

class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemEnv& env, std::string path, std::shared_ptr<MemEnv::Inode> inode)
      : m_env(env), m_path(std::move(path)), m_inode(std::move(inode)) {}
  EnvResult<void> append(std::span<const std::byte> data) override {
    std::lock_guard lock(m_env.m_mutex);
    if (!m_open) return fail(EnvErrc::k_invalid, m_path, "append after close");
    if (m_env.m_capacity && m_env.used_bytes_locked() + data.size() > *m_env.m_capacity)
      return fail(EnvErrc::k_no_space, m_path, "write: No space left on device");
    m_inode->data.insert(m_inode->data.end(), data.begin(), data.end());
    return {};
  }
  EnvResult<void> sync() override {
    std::lock_guard lock(m_env.m_mutex);
    if (!m_open) return fail(EnvErrc::k_invalid, m_path, "sync after close");
    m_inode->synced = m_inode->data;
    return {};
  }
  EnvResult<void> close() override {
    m_open = false;
    return {};
  }

 private:
  MemEnv& m_env;
  std::string m_path;
  std::shared_ptr<MemEnv::Inode> m_inode;
  bool m_open = true;
};

namespace {

class MemReadableFile final : public ReadableFile {
 public:
  explicit MemReadableFile(std::vector<std::byte> data) : m_data(std::move(data)) {}
  EnvResult<std::uint64_t> size() const override { return static_cast<std::uint64_t>(m_data.size()); }
  EnvResult<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    if (offset > m_data.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), m_data.size() - offset);
    if (n > 0) std::memcpy(out.data(), m_data.data() + offset, n);
    return n;
  }

 private:
  std::vector<std::byte> m_data;  // a snapshot: later writes are not seen
};

class MemMappedFile final : public MappedFile {
 public:
  explicit MemMappedFile(std::vector<std::byte> data) : m_data(std::move(data)) {}
  std::span<const std::byte> bytes() const override { return m_data; }

 private:
  std::vector<std::byte> m_data;
};

}  // namespace

class MemFileLock final : public FileLock {
 public:
  MemFileLock(MemEnv& env, std::string path) : m_env(env), m_path(std::move(path)) {}
  ~MemFileLock() override {
    std::lock_guard lock(m_env.m_mutex);
    m_env.m_locks.erase(m_path);
  }

 private:
  MemEnv& m_env;
  std::string m_path;
};

std::uint64_t MemEnv::used_bytes_locked() const {
  std::uint64_t total = 0;
  std::set<const Inode*> counted;
  for (const auto& [name, inode] : m_files)
    if (counted.insert(inode.get()).second) total += inode->data.size();
  return total;
}

EnvResult<std::unique_ptr<WritableFile>> MemEnv::new_writable_file(const std::string& path) {
  std::lock_guard lock(m_mutex);
  if (!m_dirs.contains(parent_dir(path))) return fail(EnvErrc::k_not_found, path, "open for writing: no such directory");
  auto& inode = m_files[path];
  if (inode) {
    inode->data.clear();
  } else {
    inode = std::make_shared<Inode>();
  }
  return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(*this, path, inode));
}

EnvResult<std::unique_ptr<ReadableFile>> MemEnv::new_readable_file(const std::string& path) {
  std::lock_guard lock(m_mutex);
  auto it = m_files.find(path);
  if (it == m_files.end()) return fail(EnvErrc::k_not_found, path, "open for reading: no such file");
  return std::unique_ptr<ReadableFile>(std::make_unique<MemReadableFile>(it->second->data));
}

EnvResult<std::unique_ptr<MappedFile>> MemEnv::map_file(const std::string& path) {
  std::lock_guard lock(m_mutex);
  auto it = m_files.find(path);
  if (it == m_files.end()) return fail(EnvErrc::k_not_found, path, "open for mapping: no such file");
  return std::unique_ptr<MappedFile>(std::make_unique<MemMappedFile>(it->second->data));
}

bool MemEnv::file_exists(const std::string& path) {
  std::lock_guard lock(m_mutex);
  return m_files.contains(path);
}

EnvResult<std::uint64_t> MemEnv::file_size(const std::string& path) {
  std::lock_guard lock(m_mutex);
  auto it = m_files.find(path);
  if (it == m_files.end()) return fail(EnvErrc::k_not_found, path, "stat: no such file");
  return static_cast<std::uint64_t>(it->second->data.size());
}

EnvResult<std::vector<std::string>> MemEnv::list_dir(const std::string& dir) {
  std::lock_guard lock(m_mutex);
  if (!m_dirs.contains(dir)) return fail(EnvErrc::k_not_found, dir, "opendir: no such directory");
  std::vector<std::string> names;
  for (const auto& [path, inode] : m_files)
    if (parent_dir(path) == dir) names.push_back(path.substr(path.find_last_of('/') + 1));
  return names;  // std::map keeps them sorted within one directory
}

EnvResult<void> MemEnv::create_dir(const std::string& dir) {
  std::lock_guard lock(m_mutex);
  for (std::string d = dir; !d.empty() && d != "." && d != "/"; d = parent_dir(d)) m_dirs.insert(d);
  return {};
}

EnvResult<void> MemEnv::remove_file(const std::string& path) {
  std::lock_guard lock(m_mutex);
  if (m_files.erase(path) == 0) return fail(EnvErrc::k_not_found, path, "unlink: no such file");
  return {};
}

EnvResult<void> MemEnv::rename_file(const std::string& from, const std::string& to) {
  std::lock_guard lock(m_mutex);
  auto it = m_files.find(from);
  if (it == m_files.end()) return fail(EnvErrc::k_not_found, from, "rename: no such file");
  if (!m_dirs.contains(parent_dir(to))) return fail(EnvErrc::k_not_found, to, "rename: no such directory");
  auto inode = it->second;
  m_files.erase(it);
  m_files[to] = std::move(inode);
  return {};
}

EnvResult<void> MemEnv::sync_dir(const std::string& dir) {
  std::lock_guard lock(m_mutex);
  if (!m_dirs.contains(dir)) return fail(EnvErrc::k_not_found, dir, "open directory: no such directory");
  std::erase_if(m_durable, [&](const auto& entry) { return parent_dir(entry.first) == dir; });
  for (const auto& [path, inode] : m_files)
    if (parent_dir(path) == dir) m_durable[path] = inode;
  return {};
}

EnvResult<std::unique_ptr<FileLock>> MemEnv::lock_file(const std::string& path) {
  std::lock_guard lock(m_mutex);
  if (!m_locks.insert(path).second) return fail(EnvErrc::k_locked, path, "flock: held by another holder");
  return std::unique_ptr<FileLock>(std::make_unique<MemFileLock>(*this, path));
}

void MemEnv::set_capacity(std::optional<std::uint64_t> bytes) {
  std::lock_guard lock(m_mutex);
  m_capacity = bytes;
}

void MemEnv::power_loss(PowerLossMode mode, std::uint64_t seed) {
  std::lock_guard lock(m_mutex);
  std::mt19937_64 rng(seed);
  m_files = m_durable;
  std::set<Inode*> done;
  for (auto& [path, inode] : m_files) {
    if (!done.insert(inode.get()).second) continue;
    const bool appended = inode->data.size() > inode->synced.size() &&
                          std::equal(inode->synced.begin(), inode->synced.end(), inode->data.begin());
    if (mode == PowerLossMode::k_torn_writes && appended) {
      const std::size_t extra = rng() % (inode->data.size() - inode->synced.size() + 1);
      inode->data.resize(inode->synced.size() + extra);
    } else {
      inode->data = inode->synced;
    }
    inode->synced = inode->data;
  }
  m_locks.clear();
}

bool MemEnv::corrupt_byte(const std::string& path, std::uint64_t offset) {
  std::lock_guard lock(m_mutex);
  auto it = m_files.find(path);
  if (it == m_files.end() || offset >= it->second->data.size()) return false;
  it->second->data[offset] ^= std::byte{0xff};
  if (offset < it->second->synced.size()) it->second->synced[offset] ^= std::byte{0xff};
  return true;
}

}  // namespace slimcache::platform
