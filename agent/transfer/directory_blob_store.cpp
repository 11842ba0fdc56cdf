// 64-bit file offsets on 32-bit targets (armhf): blobs may exceed 2 GiB.
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include "agent/transfer/directory_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace slimcache::agent::transfer {
namespace {

constexpr std::uint64_t k_sync_every = 16ull << 20;

Unexpected<TransferError> io_error(const std::string& what, const std::string& path, int err) {
  const auto code = err == ENOSPC || err == EDQUOT ? TransferErrc::k_no_space : TransferErrc::k_io;
  return Unexpected(TransferError{code, what + " " + path + ": " + std::strerror(err)});
}

std::optional<std::uint64_t> file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size);
}

bool make_dir(const std::string& path) { return ::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST; }

void fsync_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

bool write_all(int fd, const std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::uint64_t> read_size_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[32] = {};
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::uint64_t value = 0;
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] == '\n') break;
    if (buf[i] < '0' || buf[i] > '9' || value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(buf[i] - '0');
  }
  return value;
}

}  // namespace

Expected<std::unique_ptr<DirectoryBlobStore>, TransferError> DirectoryBlobStore::open(std::string root) {
  if (root.empty()) return Unexpected(TransferError{TransferErrc::k_invalid_argument, "empty blob store directory"});
  for (const std::string& dir : {root, root + "/blobs", root + "/partial"}) {
    if (!make_dir(dir)) return io_error("cannot create", dir, errno);
  }
  return std::unique_ptr<DirectoryBlobStore>(new DirectoryBlobStore(std::move(root)));
}

DirectoryBlobStore::~DirectoryBlobStore() {
  for (auto& [id, writer] : m_writers) {
    if (writer.fd >= 0) {
      sync_partial_locked(id, writer);
      ::close(writer.fd);
    }
  }
}

std::string DirectoryBlobStore::blob_path(const BlobId& id) const { return m_root + "/blobs/" + id.hex(); }
std::string DirectoryBlobStore::partial_path(const BlobId& id) const { return m_root + "/partial/" + id.hex() + ".part"; }

bool DirectoryBlobStore::has(const BlobId& id) const { return file_size(blob_path(id)).has_value(); }

std::optional<std::uint64_t> DirectoryBlobStore::size(const BlobId& id) const { return file_size(blob_path(id)); }

Expected<std::size_t, TransferError> DirectoryBlobStore::read(const BlobId& id, std::uint64_t offset,
                                                              std::span<std::byte> dest) const {
  const std::string path = blob_path(id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Unexpected(TransferError{TransferErrc::k_not_found, "no blob " + id.hex()});
    return io_error("cannot open", path, errno);
  }
  std::size_t done = 0;
  while (done < dest.size()) {
    const ssize_t n = ::pread(fd, dest.data() + done, dest.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return io_error("cannot read", path, err);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return done;
}

std::uint64_t DirectoryBlobStore::partial_size(const BlobId& id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_writers.find(id);
  if (it != m_writers.end()) return it->second.written;
  return file_size(partial_path(id)).value_or(0);
}

void DirectoryBlobStore::discard_locked(const BlobId& id) {
  auto it = m_writers.find(id);
  if (it != m_writers.end()) {
    if (it->second.fd >= 0) ::close(it->second.fd);
    m_writers.erase(it);
  }
  (void)::unlink(partial_path(id).c_str());
  (void)::unlink((m_root + "/partial/" + id.hex() + ".size").c_str());
}

Expected<std::uint64_t, TransferError> DirectoryBlobStore::begin(const BlobId& id, std::uint64_t expected_size) {
  std::lock_guard lock(m_mutex);
  if (m_writers.contains(id)) {
    return Unexpected(TransferError{TransferErrc::k_busy, "blob " + id.hex() + " is already being written"});
  }
  const std::string part = partial_path(id);
  const std::string size_file = m_root + "/partial/" + id.hex() + ".size";
  const auto recorded = read_size_file(size_file);
  const auto held = file_size(part);
  if (!recorded || *recorded != expected_size || !held) {
    discard_locked(id);
    const int sfd = ::open(size_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (sfd < 0) return io_error("cannot create", size_file, errno);
    const std::string text = std::to_string(expected_size) + "\n";
    // Synced with the partial's first sync (sync_partial_locked): until then there is
    // nothing worth resuming, and a lost .size only makes the next begin start over.
    const bool ok = write_all(sfd, reinterpret_cast<const std::byte*>(text.data()), text.size());
    const int err = errno;
    ::close(sfd);
    if (!ok) return io_error("cannot write", size_file, err);
  }
  const int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return io_error("cannot open", part, errno);
  Writer writer;
  writer.fd = fd;
  writer.expected = expected_size;
  std::uint64_t have = file_size(part).value_or(0);
  if (have > expected_size) {
    if (::ftruncate(fd, 0) != 0) {
      const int err = errno;
      ::close(fd);
      return io_error("cannot truncate", part, err);
    }
    have = 0;
  }
  // Rehash what is already there so finish() can verify the whole blob.
  std::vector<std::byte> buffer(std::min<std::uint64_t>(have, 1u << 20));
  std::uint64_t pos = 0;
  while (pos < have) {
    const ssize_t n = ::pread(fd, buffer.data(), std::min<std::uint64_t>(buffer.size(), have - pos), static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    writer.hash.update(std::span(buffer.data(), static_cast<std::size_t>(n)));
    pos += static_cast<std::uint64_t>(n);
  }
  if (pos != have && ::ftruncate(fd, static_cast<off_t>(pos)) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error("cannot truncate", part, err);
  }
  if (::lseek(fd, static_cast<off_t>(pos), SEEK_SET) < 0) {
    const int err = errno;
    ::close(fd);
    return io_error("cannot seek", part, err);
  }
  writer.written = pos;
  m_writers.emplace(id, std::move(writer));
  return pos;
}

Expected<void, TransferError> DirectoryBlobStore::append(const BlobId& id, std::span<const std::byte> bytes) {
  std::lock_guard lock(m_mutex);
  auto it = m_writers.find(id);
  if (it == m_writers.end()) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "append without begin for " + id.hex()});
  }
  Writer& w = it->second;
  if (bytes.size() > w.expected - w.written) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "more bytes than the announced size"});
  }
  if (!write_all(w.fd, bytes.data(), bytes.size())) return io_error("cannot append to", partial_path(id), errno);
  w.hash.update(bytes);
  w.written += bytes.size();
  w.unsynced += bytes.size();
  if (w.unsynced >= k_sync_every) sync_partial_locked(id, w);
  return {};
}

void DirectoryBlobStore::sync_partial_locked(const BlobId& id, Writer& w) {
  (void)::fdatasync(w.fd);
  w.unsynced = 0;
  if (w.size_synced) return;
  const int sfd = ::open((m_root + "/partial/" + id.hex() + ".size").c_str(), O_RDONLY | O_CLOEXEC);
  if (sfd >= 0) {
    w.size_synced = ::fsync(sfd) == 0;
    ::close(sfd);
  }
  fsync_dir(m_root + "/partial");
}

Expected<std::map<BlobId, DirectoryBlobStore::Writer>::iterator, TransferError> DirectoryBlobStore::complete_writer_locked(
    const BlobId& id, const char* what) {
  auto it = m_writers.find(id);
  if (it == m_writers.end()) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, std::string(what) + " without begin for " + id.hex()});
  }
  Writer& w = it->second;
  if (w.written != w.expected) {
    const std::string message =
        "blob is incomplete: " + std::to_string(w.written) + " of " + std::to_string(w.expected) + " bytes";
    ::close(w.fd);
    m_writers.erase(it);
    return Unexpected(TransferError{TransferErrc::k_protocol, message});
  }
  const BlobId got = w.hash.digest();
  if (got != id) {
    discard_locked(id);
    return Unexpected(TransferError{TransferErrc::k_verify_failed,
                                    "SHA-256 of the received bytes is " + got.hex() + ", expected " + id.hex()});
  }
  return it;
}

Expected<std::vector<std::byte>, TransferError> DirectoryBlobStore::take(const BlobId& id) {
  std::lock_guard lock(m_mutex);
  SLIM_TRY(auto it, complete_writer_locked(id, "take"));
  Writer& w = it->second;
  std::vector<std::byte> bytes(static_cast<std::size_t>(w.expected));
  std::size_t done = 0;
  // Bounded: every pread advances `done` or ends the loop.
  while (done < bytes.size()) {
    const ssize_t n = ::pread(w.fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const int err = errno;
  if (done != bytes.size()) {
    // Keep the partial: the bytes were verified once, a later fetch resumes and rehashes.
    ::close(w.fd);
    m_writers.erase(it);
    return io_error("cannot read back", partial_path(id), err);
  }
  // The hash of the bytes read back is not recomputed: they are the bytes just hashed, read
  // from the page cache; the disk tier records their SHA-256 again as it stores them.
  discard_locked(id);
  return bytes;
}

Expected<void, TransferError> DirectoryBlobStore::finish(const BlobId& id) {
  std::lock_guard lock(m_mutex);
  SLIM_TRY(auto it, complete_writer_locked(id, "finish"));
  Writer& w = it->second;
  const bool synced = ::fsync(w.fd) == 0;
  const int sync_err = errno;
  ::close(w.fd);
  m_writers.erase(it);
  if (!synced) return io_error("cannot sync", partial_path(id), sync_err);
  if (::rename(partial_path(id).c_str(), blob_path(id).c_str()) != 0) return io_error("cannot rename", partial_path(id), errno);
  (void)::unlink((m_root + "/partial/" + id.hex() + ".size").c_str());
  fsync_dir(m_root + "/blobs");
  return {};
}

void DirectoryBlobStore::abort(const BlobId& id, PartialMode mode) {
  std::lock_guard lock(m_mutex);
  if (mode == PartialMode::k_discard) {
    discard_locked(id);
    return;
  }
  auto it = m_writers.find(id);
  if (it == m_writers.end()) return;
  sync_partial_locked(id, it->second);
  ::close(it->second.fd);
  m_writers.erase(it);
}

}  // namespace slimcache::agent::transfer
