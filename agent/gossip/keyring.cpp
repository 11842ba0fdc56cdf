#include "agent/gossip/keyring.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/gcm.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace slimcache::agent::gossip {

namespace {
constexpr std::uint8_t k_seal_version = 1;
constexpr std::uint8_t k_flag_sealed = 1;
constexpr std::size_t k_header = 6;
constexpr std::size_t k_tag = 16;

std::uint32_t key_id(const Key& key) { return XXH32(key.data(), key.size(), 0); }

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}
std::uint32_t label_hash(const std::string& label) { return XXH32(label.data(), label.size(), 0x1abe1); }

Bytes aad_of(const std::uint8_t* header, const std::string& label) {
  Bytes aad(header, header + k_header);
  aad.insert(aad.end(), label.begin(), label.end());
  return aad;
}
}  // namespace

struct Keyring::Slot {
  Key key{};
  std::uint32_t id = 0;
  mbedtls_gcm_context gcm;
  Slot() { mbedtls_gcm_init(&gcm); }
  ~Slot() { mbedtls_gcm_free(&gcm); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
};

Expected<Key, Error> key_from_base64(const std::string& text) {
  std::array<unsigned char, 64> buf{};
  std::size_t n = 0;
  const int rc = mbedtls_base64_decode(buf.data(), buf.size(), &n,
                                       reinterpret_cast<const unsigned char*>(text.data()), text.size());
  if (rc != 0 || n != 32) return Unexpected(Error{ErrorCode::invalid_argument, "a key is 32 bytes in base64 (44 characters)"});
  Key k{};
  std::copy_n(buf.begin(), 32, k.begin());
  return k;
}

Expected<std::vector<Key>, Error> keys_from_keyring_files(const std::vector<std::string>& contents) {
  std::vector<Key> keys;
  for (const auto& content : contents) {
    std::size_t pos = 0;
    while (pos < content.size()) {
      auto end = content.find('\n', pos);
      if (end == std::string::npos) end = content.size();
      const std::string line = content.substr(pos, end - pos);
      pos = end + 1;
      const auto first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos || line[first] == '#') continue;
      const auto last = line.find_last_not_of(" \t\r");
      SLIM_TRY(auto key, key_from_base64(line.substr(first, last - first + 1)));
      keys.push_back(key);
    }
  }
  return keys;
}

std::string key_to_base64(const Key& key) {
  std::array<unsigned char, 64> buf{};
  std::size_t n = 0;
  (void)mbedtls_base64_encode(buf.data(), buf.size(), &n, key.data(), key.size());
  return std::string(reinterpret_cast<const char*>(buf.data()), n);
}

Keyring::Keyring() = default;
Keyring::~Keyring() = default;
Keyring::Keyring(Keyring&&) noexcept = default;
Keyring& Keyring::operator=(Keyring&&) noexcept = default;

Expected<void, Error> Keyring::install(const Key& key) {
  for (const auto& s : m_slots)
    if (s->key == key) return {};
  auto slot = std::make_unique<Slot>();
  slot->key = key;
  slot->id = key_id(key);
  if (mbedtls_gcm_setkey(&slot->gcm, MBEDTLS_CIPHER_ID_AES, key.data(), 256) != 0)
    return Unexpected(Error{ErrorCode::invalid_argument, "mbedtls_gcm_setkey failed"});
  m_slots.push_back(std::move(slot));
  return {};
}

Expected<void, Error> Keyring::use(const Key& key) {
  auto it = std::find_if(m_slots.begin(), m_slots.end(), [&](const auto& s) { return s->key == key; });
  if (it == m_slots.end()) return Unexpected(Error{ErrorCode::invalid_argument, "key is not installed"});
  std::rotate(m_slots.begin(), it, it + 1);
  return {};
}

Expected<void, Error> Keyring::remove(const Key& key) {
  auto it = std::find_if(m_slots.begin(), m_slots.end(), [&](const auto& s) { return s->key == key; });
  if (it == m_slots.end()) return Unexpected(Error{ErrorCode::invalid_argument, "key is not installed"});
  if (it == m_slots.begin()) return Unexpected(Error{ErrorCode::invalid_argument, "the primary key cannot be removed"});
  m_slots.erase(it);
  return {};
}

std::vector<Key> Keyring::keys() const {
  std::vector<Key> out;
  for (const auto& s : m_slots) out.push_back(s->key);
  return out;
}

std::optional<Key> Keyring::primary() const {
  if (m_slots.empty()) return std::nullopt;
  return m_slots.front()->key;
}

bool Keyring::empty() const { return m_slots.empty(); }

Bytes Keyring::seal(std::span<const std::uint8_t> plaintext, const std::string& label, const Nonce& nonce) const {
  Bytes out;
  if (m_slots.empty()) {
    out.resize(k_header + plaintext.size());
    out[0] = k_seal_version;
    out[1] = 0;
    put_u32(&out[2], label_hash(label));
    std::copy(plaintext.begin(), plaintext.end(), out.begin() + k_header);
    return out;
  }
  const Slot& slot = *m_slots.front();
  out.resize(k_seal_overhead + plaintext.size());
  out[0] = k_seal_version;
  out[1] = k_flag_sealed;
  put_u32(&out[2], slot.id);
  std::copy(nonce.begin(), nonce.end(), out.begin() + k_header);
  const Bytes aad = aad_of(out.data(), label);
  std::uint8_t* ct = out.data() + k_header + nonce.size();
  std::uint8_t* tag = ct + plaintext.size();
  // The context is logically const: crypt_and_tag only reads the key schedule.
  auto* gcm = const_cast<mbedtls_gcm_context*>(&slot.gcm);
  (void)mbedtls_gcm_crypt_and_tag(gcm, MBEDTLS_GCM_ENCRYPT, plaintext.size(), nonce.data(), nonce.size(),
                                  aad.data(), aad.size(), plaintext.data(), ct, k_tag, tag);
  return out;
}

Expected<Bytes, DropReason> Keyring::open(std::span<const std::uint8_t> sealed, const std::string& label) const {
  if (sealed.size() < k_header || sealed[0] != k_seal_version) return Unexpected(DropReason::decode_error);
  const bool is_sealed = (sealed[1] & k_flag_sealed) != 0;
  if (m_slots.empty()) {
    if (is_sealed) return Unexpected(DropReason::unknown_key);
    if (get_u32(&sealed[2]) != label_hash(label)) return Unexpected(DropReason::wrong_label);
    return Bytes(sealed.begin() + k_header, sealed.end());
  }
  if (!is_sealed) return Unexpected(DropReason::auth_failed);  // plaintext into an encrypted cluster
  if (sealed.size() < k_seal_overhead) return Unexpected(DropReason::decode_error);
  const std::uint32_t id = get_u32(&sealed[2]);
  const std::size_t n = sealed.size() - k_seal_overhead;
  const std::uint8_t* nonce = sealed.data() + k_header;
  const std::uint8_t* ct = nonce + 12;
  const std::uint8_t* tag = ct + n;
  const Bytes aad = aad_of(sealed.data(), label);
  bool known = false;
  Bytes out(n);
  for (const auto& slot : m_slots) {
    if (slot->id != id) continue;
    known = true;
    auto* gcm = const_cast<mbedtls_gcm_context*>(&slot->gcm);  // read-only use, see seal()
    if (mbedtls_gcm_auth_decrypt(gcm, n, nonce, 12, aad.data(), aad.size(), tag, k_tag, ct, out.data()) == 0)
      return out;
  }
  return Unexpected(known ? DropReason::auth_failed : DropReason::unknown_key);
}

}  // namespace slimcache::agent::gossip
