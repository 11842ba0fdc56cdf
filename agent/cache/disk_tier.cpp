#include "agent/cache/disk_tier.hpp"

#include <mbedtls/sha256.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace slimcache::agent::cache {

namespace {

using platform::EnvErrc;
using platform::EnvError;

constexpr char k_magic[8] = {'S', 'L', 'I', 'M', 'B', 'L', 'O', 'B'};
constexpr std::size_t k_chunk = std::size_t{1} << 20;

Unexpected<CacheError> from_env(const EnvError& e, const std::string& what) {
  const CacheErrc code = e.code == EnvErrc::k_no_space  ? CacheErrc::k_disk_full
                         : e.code == EnvErrc::k_not_found ? CacheErrc::k_not_found
                                                          : CacheErrc::k_io;
  return Unexpected(CacheError{code, what + ": " + e.to_string()});
}

template <typename T>
void put_le(std::byte* at, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) at[i] = static_cast<std::byte>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
}
template <typename T>
T get_le(const std::byte* at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(at[i]) << (8 * i);
  return static_cast<T>(v);
}

std::array<std::byte, k_blob_header_size> encode_header(const BlobInfo& b) {
  std::array<std::byte, k_blob_header_size> h{};
  std::memcpy(h.data(), k_magic, 8);
  put_le<std::uint32_t>(h.data() + 8, k_blob_format_version);
  put_le<std::uint32_t>(h.data() + 12, static_cast<std::uint32_t>(k_blob_header_size));
  put_le<std::uint64_t>(h.data() + 16, b.payload_size);
  put_le<std::uint32_t>(h.data() + 24, b.key.layer);
  put_le<std::uint32_t>(h.data() + 28, b.key.expert);
  std::memcpy(h.data() + 32, b.sha256.data(), 32);
  put_le<std::uint64_t>(h.data() + 64, b.xxh3);
  put_le<std::uint16_t>(h.data() + 72, static_cast<std::uint16_t>(b.key.model.size()));
  std::memcpy(h.data() + 74, b.key.model.data(), b.key.model.size());
  put_le<std::uint64_t>(h.data() + 112, b.sequence);
  put_le<std::uint64_t>(h.data() + 120, XXH3_64bits(h.data(), 120));
  return h;
}

// The reason the header is bad, or nullopt.
std::optional<std::string> decode_header(std::span<const std::byte> h, BlobInfo& b) {
  if (h.size() < k_blob_header_size) return "shorter than a blob header";
  if (std::memcmp(h.data(), k_magic, 8) != 0) return "bad magic";
  if (get_le<std::uint64_t>(h.data() + 120) != XXH3_64bits(h.data(), 120)) return "header checksum mismatch";
  if (get_le<std::uint32_t>(h.data() + 8) != k_blob_format_version)
    return "unknown format version " + std::to_string(get_le<std::uint32_t>(h.data() + 8));
  if (get_le<std::uint32_t>(h.data() + 12) != k_blob_header_size) return "unexpected header size";
  b.payload_size = get_le<std::uint64_t>(h.data() + 16);
  b.key.layer = get_le<std::uint32_t>(h.data() + 24);
  b.key.expert = get_le<std::uint32_t>(h.data() + 28);
  std::memcpy(b.sha256.data(), h.data() + 32, 32);
  b.xxh3 = get_le<std::uint64_t>(h.data() + 64);
  const auto model_len = get_le<std::uint16_t>(h.data() + 72);
  if (model_len > k_max_model_id) return "model id too long";
  b.key.model.assign(reinterpret_cast<const char*>(h.data() + 74), model_len);
  b.sequence = get_le<std::uint64_t>(h.data() + 112);
  return std::nullopt;
}

// Streams the payload of `file`, checking XXH3 and optionally SHA-256. nullopt when good.
std::optional<std::string> verify_file(const platform::ReadableFile& file, const BlobInfo& b, VerifyMode mode) {
  XXH3_state_t* state = XXH3_createState();
  if (state == nullptr) return "out of memory";
  XXH3_64bits_reset(state);
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  (void)mbedtls_sha256_starts_ret(&sha, 0);
  std::vector<std::byte> buf(static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk, b.payload_size)));
  std::optional<std::string> problem;
  for (std::uint64_t done = 0; done < b.payload_size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), b.payload_size - done));
    auto got = file.read_at(k_blob_header_size + done, std::span(buf).first(n));
    if (!got || *got != n) {
      problem = got ? "truncated payload" : "read failed: " + got.error().to_string();
      break;
    }
    XXH3_64bits_update(state, buf.data(), n);
    if (mode == VerifyMode::k_full)
      (void)mbedtls_sha256_update_ret(&sha, reinterpret_cast<const unsigned char*>(buf.data()), n);
    done += n;
  }
  if (!problem && XXH3_64bits_digest(state) != b.xxh3) problem = "payload checksum (XXH3) mismatch";
  if (!problem && mode == VerifyMode::k_full) {
    Sha256 digest{};
    (void)mbedtls_sha256_finish_ret(&sha, digest.data());
    if (digest != b.sha256) problem = "payload SHA-256 mismatch";
  }
  mbedtls_sha256_free(&sha);
  XXH3_freeState(state);
  return problem;
}

}  // namespace

std::string ExpertKey::to_string() const {
  return model + "/L" + std::to_string(layer) + "/E" + std::to_string(expert);
}

std::string to_hex(const Sha256& digest) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t b : digest) {
    out.push_back(k_digits[b >> 4]);
    out.push_back(k_digits[b & 15]);
  }
  return out;
}

Sha256 sha256_of(std::span<const std::byte> data) {
  Sha256 digest{};
  (void)mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), 0);
  return digest;
}

std::uint64_t BlobInfo::file_size() const { return k_blob_header_size + payload_size; }

std::string DiskTier::blobs_dir() const { return platform::join_path(m_options.root, "blobs"); }

Expected<std::unique_ptr<DiskTier>, CacheError> DiskTier::open(platform::Env& env, DiskTierOptions options) {
  if (options.root.empty()) return Unexpected(CacheError{CacheErrc::k_invalid_argument, "disk tier: empty root"});
  std::unique_ptr<DiskTier> tier(new DiskTier(env, std::move(options)));
  const std::string& root = tier->m_options.root;
  for (const char* sub : {"blobs", "tmp", "quarantine"}) {
    auto made = env.create_dir(platform::join_path(root, sub));
    if (!made) return from_env(made.error(), "disk tier: create directory");
  }
  auto lock = env.lock_file(platform::join_path(root, "LOCK"));
  if (!lock) {
    if (lock.error().code == EnvErrc::k_locked)
      return Unexpected(CacheError{CacheErrc::k_busy, "disk tier " + root + " is in use by another process"});
    return from_env(lock.error(), "disk tier: lock");
  }
  tier->m_lock = std::move(*lock);
  SLIM_TRY_VOID(tier->rebuild());
  return tier;
}

Expected<void, CacheError> DiskTier::quarantine_file_locked(const std::string& name, const std::string& reason) {
  const std::string from = platform::join_path(blobs_dir(), name);
  const std::string to =
      platform::join_path(platform::join_path(m_options.root, "quarantine"), name + "." + std::to_string(m_next_sequence++));
  QuarantineRecord record{from, to, reason};
  auto moved = m_env.rename_file(from, to);
  if (!moved) {
    // Still never served: it is not in the index. A later open retries the move.
    record.moved_to.clear();
    m_quarantined.push_back(record);
    return from_env(moved.error(), "quarantine " + from);
  }
  (void)m_env.sync_dir(platform::join_path(m_options.root, "quarantine"));
  (void)m_env.sync_dir(blobs_dir());
  m_quarantined.push_back(std::move(record));
  return {};
}

Expected<void, CacheError> DiskTier::rebuild() {
  std::lock_guard lock(m_mutex);
  const std::string tmp_dir = platform::join_path(m_options.root, "tmp");
  auto tmps = m_env.list_dir(tmp_dir);
  if (!tmps) return from_env(tmps.error(), "disk tier: list tmp");
  for (const auto& name : *tmps) {
    if (m_env.remove_file(platform::join_path(tmp_dir, name))) ++m_report.temporaries_removed;
  }
  if (!tmps->empty()) (void)m_env.sync_dir(tmp_dir);

  auto names = m_env.list_dir(blobs_dir());
  if (!names) return from_env(names.error(), "disk tier: list blobs");
  std::vector<std::byte> header(k_blob_header_size);
  for (const auto& name : *names) {
    const std::string path = platform::join_path(blobs_dir(), name);
    BlobInfo info;
    info.path = path;
    std::optional<std::string> problem;
    if (name.size() != 64 + 5 || !name.ends_with(".blob")) {
      problem = "not a blob name";
    } else if (auto file = m_env.new_readable_file(path); !file) {
      return from_env(file.error(), "disk tier: open blob");  // an I/O error is not corruption
    } else {
      auto got = (*file)->read_at(0, header);
      auto size = (*file)->size();
      if (!got || !size) return from_env(got ? size.error() : got.error(), "disk tier: read blob");
      problem = decode_header(std::span(header).first(*got), info);
      if (!problem && *size != info.file_size()) problem = "file size does not match the header";
      if (!problem && name.substr(0, 64) != to_hex(info.sha256)) problem = "name does not match the SHA-256";
      if (!problem) problem = verify_file(**file, info, m_options.verify_on_open);
    }
    if (problem) {
      (void)quarantine_file_locked(name, *problem);
      continue;
    }
    m_next_sequence = std::max(m_next_sequence, info.sequence + 1);
    auto [it, inserted] = m_index.emplace(info.key, info);
    if (!inserted) {
      // A crash between writing a replacement and removing the old blob: the newest wins.
      BlobInfo older = info;
      if (info.sequence > it->second.sequence) std::swap(older, it->second);
      if (m_env.remove_file(older.path)) ++m_report.superseded_removed;
    }
  }
  if (m_report.superseded_removed > 0) (void)m_env.sync_dir(blobs_dir());
  for (const auto& [key, info] : m_index) m_used += info.file_size();
  m_report.blobs = m_index.size();
  m_report.bytes = m_used;
  m_report.quarantined = m_quarantined;
  return {};
}

Expected<BlobInfo, CacheError> DiskTier::put(const ExpertKey& key, std::span<const std::byte> payload) {
  if (key.model.size() > k_max_model_id)
    return Unexpected(CacheError{CacheErrc::k_invalid_argument,
                                 "model id '" + key.model + "' is longer than " + std::to_string(k_max_model_id) + " bytes"});
  BlobInfo info;
  info.key = key;
  info.sha256 = sha256_of(payload);
  info.xxh3 = XXH3_64bits(payload.data(), payload.size());
  info.payload_size = payload.size();
  const std::string hex = to_hex(info.sha256);
  info.path = platform::join_path(blobs_dir(), hex + ".blob");

  std::lock_guard lock(m_mutex);
  const auto existing = m_index.find(key);
  if (existing != m_index.end() && existing->second.sha256 == info.sha256) return existing->second;
  for (const auto& [other_key, other] : m_index) {
    if (other.sha256 == info.sha256)
      return Unexpected(CacheError{CacheErrc::k_invalid_argument,
                                   key.to_string() + " has the same content as " + other_key.to_string()});
  }
  const std::uint64_t freed = existing != m_index.end() ? existing->second.file_size() : 0;
  if (m_used - freed + info.file_size() > m_options.budget_bytes) {
    return Unexpected(CacheError{CacheErrc::k_budget_exceeded,
                                 key.to_string() + ": " + std::to_string(info.file_size()) + " bytes do not fit the disk budget (" +
                                     std::to_string(m_used) + " of " + std::to_string(m_options.budget_bytes) + " used)"});
  }
  info.sequence = m_next_sequence++;
  const auto header = encode_header(info);

  const std::string tmp_dir = platform::join_path(m_options.root, "tmp");
  const std::string tmp = platform::join_path(tmp_dir, hex + "." + std::to_string(++m_tmp_counter) + ".tmp");
  auto write = [&]() -> platform::EnvResult<void> {
    SLIM_TRY(auto file, m_env.new_writable_file(tmp));
    SLIM_TRY_VOID(file->append(header));
    SLIM_TRY_VOID(file->append(payload));
    SLIM_TRY_VOID(file->sync());
    return file->close();
  };
  if (auto written = write(); !written) {
    (void)m_env.remove_file(tmp);
    return from_env(written.error(), "store " + key.to_string());
  }
  if (auto renamed = m_env.rename_file(tmp, info.path); !renamed) {
    (void)m_env.remove_file(tmp);
    return from_env(renamed.error(), "store " + key.to_string());
  }
  if (auto synced = m_env.sync_dir(blobs_dir()); !synced) {
    // Not known to be durable: report the failure and try to take the blob back.
    if (m_env.remove_file(info.path)) (void)m_env.sync_dir(blobs_dir());
    return from_env(synced.error(), "store " + key.to_string());
  }
  if (existing != m_index.end()) {
    // The new blob is durable; the old one is superseded (a crash here leaves both, and the
    // next open keeps the newer).
    if (m_env.remove_file(existing->second.path)) (void)m_env.sync_dir(blobs_dir());
    m_used -= existing->second.file_size();
  }
  m_used += info.file_size();
  m_index[key] = info;
  return info;
}

Expected<std::vector<BlobInfo>, CacheError> DiskTier::put_many(std::span<const PutItem> items) {
  std::vector<BlobInfo> infos(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    if (item.key.model.size() > k_max_model_id)
      return Unexpected(CacheError{CacheErrc::k_invalid_argument, "model id '" + item.key.model + "' is longer than " +
                                                                      std::to_string(k_max_model_id) + " bytes"});
    BlobInfo& info = infos[i];
    info.key = item.key;
    info.sha256 = sha256_of(item.payload);
    info.xxh3 = XXH3_64bits(item.payload.data(), item.payload.size());
    info.payload_size = item.payload.size();
    info.path = platform::join_path(blobs_dir(), to_hex(info.sha256) + ".blob");
  }

  std::lock_guard lock(m_mutex);
  // Which items need writing; the checks put() makes, for the whole batch.
  std::map<Sha256, ExpertKey> contents;
  for (const auto& [key, info] : m_index) contents.emplace(info.sha256, key);
  std::set<ExpertKey> keys;
  std::vector<std::size_t> todo;
  std::uint64_t used_after = m_used;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const BlobInfo& info = infos[i];
    if (!keys.insert(info.key).second)
      return Unexpected(CacheError{CacheErrc::k_invalid_argument, info.key.to_string() + " appears twice in one batch"});
    const auto existing = m_index.find(info.key);
    if (existing != m_index.end() && existing->second.sha256 == info.sha256) {
      infos[i] = existing->second;
      continue;
    }
    auto [other, fresh] = contents.emplace(info.sha256, info.key);
    if (!fresh)
      return Unexpected(CacheError{CacheErrc::k_invalid_argument,
                                   info.key.to_string() + " has the same content as " + other->second.to_string()});
    if (existing != m_index.end()) used_after -= existing->second.file_size();
    used_after += info.file_size();
    todo.push_back(i);
  }
  if (used_after > m_options.budget_bytes) {
    return Unexpected(CacheError{CacheErrc::k_budget_exceeded,
                                 std::to_string(todo.size()) + " experts (" + std::to_string(used_after - m_used) +
                                     " bytes more) do not fit the disk budget (" + std::to_string(m_used) + " of " +
                                     std::to_string(m_options.budget_bytes) + " used)"});
  }
  if (todo.empty()) return infos;

  // 1. Every blob to tmp/, synced. Nothing is in blobs/ yet.
  const std::string tmp_dir = platform::join_path(m_options.root, "tmp");
  std::vector<std::string> tmps;
  tmps.reserve(todo.size());
  auto discard = [&](std::size_t renamed) {
    // The first `renamed` items are in blobs/ already, the rest still in tmp/.
    for (std::size_t j = 0; j < tmps.size(); ++j) (void)m_env.remove_file(j < renamed ? infos[todo[j]].path : tmps[j]);
    if (renamed > 0) (void)m_env.sync_dir(blobs_dir());
  };
  for (const std::size_t i : todo) {
    BlobInfo& info = infos[i];
    info.sequence = m_next_sequence++;
    const auto header = encode_header(info);
    tmps.push_back(platform::join_path(tmp_dir, to_hex(info.sha256) + "." + std::to_string(++m_tmp_counter) + ".tmp"));
    auto write = [&]() -> platform::EnvResult<void> {
      SLIM_TRY(auto file, m_env.new_writable_file(tmps.back()));
      SLIM_TRY_VOID(file->append(header));
      SLIM_TRY_VOID(file->append(items[i].payload));
      SLIM_TRY_VOID(file->sync());
      return file->close();
    };
    if (auto written = write(); !written) {
      discard(0);
      return from_env(written.error(), "store " + info.key.to_string());
    }
  }
  // 2. Into blobs/, then one directory sync makes every name durable.
  for (std::size_t j = 0; j < todo.size(); ++j) {
    if (auto renamed = m_env.rename_file(tmps[j], infos[todo[j]].path); !renamed) {
      discard(j);
      return from_env(renamed.error(), "store " + infos[todo[j]].key.to_string());
    }
  }
  if (auto synced = m_env.sync_dir(blobs_dir()); !synced) {
    discard(todo.size());
    return from_env(synced.error(), "store " + std::to_string(todo.size()) + " experts");
  }
  // 3. Durable: publish, and drop what the batch superseded (a crash before that leaves
  // both, and the next open keeps the newer).
  bool removed_old = false;
  for (const std::size_t i : todo) {
    const BlobInfo& info = infos[i];
    if (auto existing = m_index.find(info.key); existing != m_index.end()) {
      removed_old = m_env.remove_file(existing->second.path).has_value() || removed_old;
      m_used -= existing->second.file_size();
    }
    m_used += info.file_size();
    m_index[info.key] = info;
  }
  if (removed_old) (void)m_env.sync_dir(blobs_dir());
  return infos;
}

Expected<void, CacheError> DiskTier::read_payload_locked(const BlobInfo& info, std::span<std::byte> dest) {
  auto file = m_env.new_readable_file(info.path);
  if (!file) return from_env(file.error(), "read " + info.key.to_string());
  auto got = (*file)->read_at(k_blob_header_size, dest.first(static_cast<std::size_t>(info.payload_size)));
  if (!got) return from_env(got.error(), "read " + info.key.to_string());
  if (*got != info.payload_size || XXH3_64bits(dest.data(), info.payload_size) != info.xxh3) {
    const std::string reason = *got != info.payload_size ? "truncated payload" : "payload checksum (XXH3) mismatch";
    const std::string name = info.path.substr(info.path.find_last_of('/') + 1);
    const ExpertKey key = info.key;
    m_used -= info.file_size();
    m_index.erase(key);
    (void)quarantine_file_locked(name, reason);
    return Unexpected(CacheError{CacheErrc::k_corrupt, key.to_string() + ": " + reason + "; blob quarantined"});
  }
  return {};
}

Expected<std::vector<std::byte>, CacheError> DiskTier::read(const ExpertKey& key) {
  std::lock_guard lock(m_mutex);
  auto it = m_index.find(key);
  if (it == m_index.end()) return Unexpected(CacheError{CacheErrc::k_not_found, key.to_string() + " is not on disk"});
  std::vector<std::byte> out(static_cast<std::size_t>(it->second.payload_size));
  SLIM_TRY_VOID(read_payload_locked(BlobInfo(it->second), out));
  return out;
}

Expected<std::size_t, CacheError> DiskTier::read_into(const ExpertKey& key, std::span<std::byte> dest) {
  std::lock_guard lock(m_mutex);
  auto it = m_index.find(key);
  if (it == m_index.end()) return Unexpected(CacheError{CacheErrc::k_not_found, key.to_string() + " is not on disk"});
  if (dest.size() < it->second.payload_size)
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, key.to_string() + ": destination too small"});
  const auto size = static_cast<std::size_t>(it->second.payload_size);
  SLIM_TRY_VOID(read_payload_locked(BlobInfo(it->second), dest));
  return size;
}

Expected<void, CacheError> DiskTier::remove(const ExpertKey& key) {
  std::lock_guard lock(m_mutex);
  auto it = m_index.find(key);
  if (it == m_index.end()) return Unexpected(CacheError{CacheErrc::k_not_found, key.to_string() + " is not on disk"});
  if (auto removed = m_env.remove_file(it->second.path); !removed) return from_env(removed.error(), "remove " + key.to_string());
  m_used -= it->second.file_size();
  m_index.erase(it);
  if (auto synced = m_env.sync_dir(blobs_dir()); !synced) return from_env(synced.error(), "remove " + key.to_string());
  return {};
}

Expected<void, CacheError> DiskTier::quarantine(const ExpertKey& key, const std::string& reason) {
  std::lock_guard lock(m_mutex);
  auto it = m_index.find(key);
  if (it == m_index.end()) return Unexpected(CacheError{CacheErrc::k_not_found, key.to_string() + " is not on disk"});
  const std::string name = it->second.path.substr(it->second.path.find_last_of('/') + 1);
  m_used -= it->second.file_size();
  m_index.erase(it);
  return quarantine_file_locked(name, reason);
}

std::optional<BlobInfo> DiskTier::find(const ExpertKey& key) const {
  std::lock_guard lock(m_mutex);
  auto it = m_index.find(key);
  if (it == m_index.end()) return std::nullopt;
  return it->second;
}

std::optional<BlobInfo> DiskTier::find_by_sha256(const Sha256& digest) const {
  std::lock_guard lock(m_mutex);
  for (const auto& [key, info] : m_index)
    if (info.sha256 == digest) return info;
  return std::nullopt;
}

void DiskTier::for_each(const std::function<void(const BlobInfo&)>& fn) const {
  std::lock_guard lock(m_mutex);
  for (const auto& [key, info] : m_index) fn(info);
}

std::vector<BlobInfo> DiskTier::inventory() const {
  std::lock_guard lock(m_mutex);
  std::vector<BlobInfo> out;
  out.reserve(m_index.size());
  for (const auto& [key, info] : m_index) out.push_back(info);
  return out;
}

std::uint64_t DiskTier::used_bytes() const {
  std::lock_guard lock(m_mutex);
  return m_used;
}

std::vector<QuarantineRecord> DiskTier::quarantined() const {
  std::lock_guard lock(m_mutex);
  return m_quarantined;
}

}  // namespace slimcache::agent::cache
