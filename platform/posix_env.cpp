#include "platform/posix_env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace slimcache::platform {

namespace {

Unexpected<EnvError> posix_error(const std::string& path, const char* what, int err) {
  EnvErrc code = EnvErrc::k_io;
  switch (err) {
    case ENOENT: code = EnvErrc::k_not_found; break;
    case EEXIST: code = EnvErrc::k_exists; break;
    case ENOSPC:
    case EDQUOT: code = EnvErrc::k_no_space; break;
    case EACCES:
    case EPERM:
    case EROFS: code = EnvErrc::k_permission; break;
    case EWOULDBLOCK: code = EnvErrc::k_locked; break;
    case EINVAL: code = EnvErrc::k_invalid; break;
    default: break;
  }
  return Unexpected(EnvError{code, path, std::string(what) + ": " + std::strerror(err)});
}

class Fd {
 public:
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }
  void reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
  }

 private:
  int m_fd;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : m_path(std::move(path)), m_fd(fd) {}
  EnvResult<void> append(std::span<const std::byte> data) override {
    const auto* p = reinterpret_cast<const char*>(data.data());
    std::size_t left = data.size();
    while (left > 0) {
      const ssize_t n = ::write(m_fd.get(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return posix_error(m_path, "write", errno);
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return {};
  }
  EnvResult<void> sync() override {
    if (::fdatasync(m_fd.get()) != 0) return posix_error(m_path, "fdatasync", errno);
    return {};
  }
  EnvResult<void> close() override {
    const int fd = m_fd.release();
    if (fd >= 0 && ::close(fd) != 0) return posix_error(m_path, "close", errno);
    return {};
  }

 private:
  std::string m_path;
  Fd m_fd;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd) : m_path(std::move(path)), m_fd(fd) {}
  EnvResult<std::uint64_t> size() const override {
    struct stat st {};
    if (::fstat(m_fd.get(), &st) != 0) return posix_error(m_path, "fstat", errno);
    return static_cast<std::uint64_t>(st.st_size);
  }
  EnvResult<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(m_fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return posix_error(m_path, "pread", errno);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

 private:
  std::string m_path;
  Fd m_fd;
};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, std::size_t size) : m_addr(addr), m_size(size) {}
  PosixMappedFile(const PosixMappedFile&) = delete;
  PosixMappedFile& operator=(const PosixMappedFile&) = delete;
  ~PosixMappedFile() override {
    if (m_addr != nullptr) ::munmap(m_addr, m_size);
  }
  std::span<const std::byte> bytes() const override { return {static_cast<const std::byte*>(m_addr), m_size}; }

 private:
  void* m_addr;
  std::size_t m_size;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : m_fd(fd) {}
  ~PosixFileLock() override { ::flock(m_fd.get(), LOCK_UN); }

 private:
  Fd m_fd;
};

}  // namespace

EnvResult<std::unique_ptr<WritableFile>> PosixEnv::new_writable_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return posix_error(path, "open for writing", errno);
  return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd));
}

EnvResult<std::unique_ptr<ReadableFile>> PosixEnv::new_readable_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return posix_error(path, "open for reading", errno);
  return std::unique_ptr<ReadableFile>(std::make_unique<PosixReadableFile>(path, fd));
}

EnvResult<std::unique_ptr<MappedFile>> PosixEnv::map_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return posix_error(path, "open for mapping", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return posix_error(path, "fstat", errno);
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return std::unique_ptr<MappedFile>(std::make_unique<PosixMappedFile>(nullptr, 0));
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (addr == MAP_FAILED) return posix_error(path, "mmap", errno);
  return std::unique_ptr<MappedFile>(std::make_unique<PosixMappedFile>(addr, size));
}

bool PosixEnv::file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

EnvResult<std::uint64_t> PosixEnv::file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return posix_error(path, "stat", errno);
  return static_cast<std::uint64_t>(st.st_size);
}

EnvResult<std::vector<std::string>> PosixEnv::list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return posix_error(dir, "opendir", errno);
  std::vector<std::string> names;
  // readdir returns null both at the end and on an error (EOVERFLOW, EIO): tell them apart,
  // so that a failing listing is never mistaken for an empty directory.
  errno = 0;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::stat(join_path(dir, name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return posix_error(dir, "readdir", err);
  std::sort(names.begin(), names.end());
  return names;
}

EnvResult<void> PosixEnv::create_dir(const std::string& dir) {
  if (dir.empty() || dir == "." || dir == "/") return {};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return Unexpected(EnvError{EnvErrc::k_exists, dir, "exists and is not a directory"});
  }
  SLIM_TRY_VOID(create_dir(parent_dir(dir)));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return posix_error(dir, "mkdir", errno);
  return {};
}

EnvResult<void> PosixEnv::remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return posix_error(path, "unlink", errno);
  return {};
}

EnvResult<void> PosixEnv::rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return posix_error(from, ("rename to " + to).c_str(), errno);
  return {};
}

EnvResult<void> PosixEnv::sync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return posix_error(dir, "open directory", errno);
  if (::fsync(fd.get()) != 0) return posix_error(dir, "fsync directory", errno);
  return {};
}

EnvResult<std::unique_ptr<FileLock>> PosixEnv::lock_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return posix_error(path, "open lock file", errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return posix_error(path, "flock", errno);
  return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd.release()));
}

PosixEnv& PosixEnv::instance() {
  static PosixEnv env;
  return env;
}

}  // namespace slimcache::platform
