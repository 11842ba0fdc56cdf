#include "agent/transfer/memory_blob_store.hpp"

#include <algorithm>
#include <cstring>

namespace slimcache::agent::transfer {

BlobId MemoryBlobStore::put(std::vector<std::byte> bytes) {
  const BlobId id = BlobId::of(bytes);
  std::lock_guard lock(m_mutex);
  m_blobs[id] = std::move(bytes);
  return id;
}

void MemoryBlobStore::put_unverified(const BlobId& id, std::vector<std::byte> bytes) {
  std::lock_guard lock(m_mutex);
  m_blobs[id] = std::move(bytes);
}

std::vector<std::byte> MemoryBlobStore::contents(const BlobId& id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_blobs.find(id);
  return it == m_blobs.end() ? std::vector<std::byte>{} : it->second;
}

bool MemoryBlobStore::has(const BlobId& id) const {
  std::lock_guard lock(m_mutex);
  return m_blobs.contains(id);
}

std::optional<std::uint64_t> MemoryBlobStore::size(const BlobId& id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_blobs.find(id);
  if (it == m_blobs.end()) return std::nullopt;
  return it->second.size();
}

Expected<std::size_t, TransferError> MemoryBlobStore::read(const BlobId& id, std::uint64_t offset,
                                                           std::span<std::byte> dest) const {
  std::lock_guard lock(m_mutex);
  auto it = m_blobs.find(id);
  if (it == m_blobs.end()) return Unexpected(TransferError{TransferErrc::k_not_found, "no blob " + id.hex()});
  if (offset >= it->second.size()) return std::size_t{0};
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(dest.size(), it->second.size() - offset));
  std::memcpy(dest.data(), it->second.data() + offset, n);
  return n;
}

std::uint64_t MemoryBlobStore::partial_size(const BlobId& id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_partials.find(id);
  return it == m_partials.end() ? 0 : it->second.bytes.size();
}

Expected<std::uint64_t, TransferError> MemoryBlobStore::begin(const BlobId& id, std::uint64_t expected_size) {
  std::lock_guard lock(m_mutex);
  auto it = m_partials.find(id);
  if (it != m_partials.end() && it->second.open) {
    return Unexpected(TransferError{TransferErrc::k_busy, "blob " + id.hex() + " is already being written"});
  }
  if (it != m_partials.end() && it->second.expected != expected_size) {
    m_partials.erase(it);
    it = m_partials.end();
  }
  if (it == m_partials.end()) {
    it = m_partials.emplace(id, Partial{}).first;
    it->second.expected = expected_size;
    it->second.bytes.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(expected_size, 1ull << 30)));
  }
  it->second.open = true;
  return static_cast<std::uint64_t>(it->second.bytes.size());
}

Expected<void, TransferError> MemoryBlobStore::append(const BlobId& id, std::span<const std::byte> bytes) {
  std::lock_guard lock(m_mutex);
  auto it = m_partials.find(id);
  if (it == m_partials.end() || !it->second.open) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "append without begin for " + id.hex()});
  }
  Partial& p = it->second;
  if (bytes.size() > p.expected - p.bytes.size()) {
    return Unexpected(TransferError{TransferErrc::k_protocol, "more bytes than the announced size"});
  }
  p.bytes.insert(p.bytes.end(), bytes.begin(), bytes.end());
  p.hash.update(bytes);
  return {};
}

Expected<void, TransferError> MemoryBlobStore::finish(const BlobId& id) {
  std::lock_guard lock(m_mutex);
  auto it = m_partials.find(id);
  if (it == m_partials.end() || !it->second.open) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "finish without begin for " + id.hex()});
  }
  Partial& p = it->second;
  if (p.bytes.size() != p.expected) {
    p.open = false;
    return Unexpected(TransferError{TransferErrc::k_protocol, "blob is incomplete: " + std::to_string(p.bytes.size()) +
                                                                  " of " + std::to_string(p.expected) + " bytes"});
  }
  const BlobId got = p.hash.digest();
  if (got != id) {
    m_partials.erase(it);
    return Unexpected(TransferError{TransferErrc::k_verify_failed,
                                    "SHA-256 of the received bytes is " + got.hex() + ", expected " + id.hex()});
  }
  m_blobs[id] = std::move(p.bytes);
  m_partials.erase(it);
  return {};
}

void MemoryBlobStore::abort(const BlobId& id, PartialMode mode) {
  std::lock_guard lock(m_mutex);
  auto it = m_partials.find(id);
  if (it == m_partials.end()) return;
  if (mode == PartialMode::k_discard) {
    m_partials.erase(it);
  } else {
    it->second.open = false;
  }
}

}  // namespace slimcache::agent::transfer
