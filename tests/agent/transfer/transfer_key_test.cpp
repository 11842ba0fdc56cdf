#include "agent/transfer/transfer_key.hpp"

#include <gtest/gtest.h>
#include <mbedtls/md.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "agent/transfer/cipher_preference.hpp"

namespace slimcache::agent::transfer {
namespace {

std::vector<std::uint8_t> key_of(std::uint8_t fill) { return std::vector<std::uint8_t>(32, fill); }

// HKDF-SHA256 written out from RFC 5869 with HMAC from mbedTLS: an independent oracle.
std::array<std::uint8_t, 32> rfc5869_first_block(const std::vector<std::uint8_t>& ikm, const std::string& salt,
                                                 const std::string& info) {
  const auto* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  std::array<std::uint8_t, 32> prk{};
  std::array<std::uint8_t, 32> okm{};
  (void)mbedtls_md_hmac(md, reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), ikm.data(), ikm.size(),
                        prk.data());
  std::string t1 = info + '\x01';
  (void)mbedtls_md_hmac(md, prk.data(), prk.size(), reinterpret_cast<const unsigned char*>(t1.data()), t1.size(),
                        okm.data());
  return okm;
}

TEST(TransferKey, PskIsHkdfSha256OfTheClusterKeyWithTheTransferLabel) {
  const auto cluster_key = key_of(0x42);

  auto sut = derive_transfer_psk(cluster_key, "prod-eu");

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->key, rfc5869_first_block(cluster_key, "prod-eu", std::string(k_psk_info)));
  EXPECT_EQ(sut->identity.rfind("slimcache-transfer-v1:", 0), 0u);
  EXPECT_EQ(sut->identity.size(), std::string("slimcache-transfer-v1:").size() + 8);
}

TEST(TransferKey, DifferentKeysOrClusterLabelsGiveDifferentPsks) {
  auto a = derive_transfer_psk(key_of(1), "c1").value();
  auto b = derive_transfer_psk(key_of(2), "c1").value();
  auto c = derive_transfer_psk(key_of(1), "c2").value();

  EXPECT_NE(a.key, b.key);
  EXPECT_NE(a.key, c.key);
  EXPECT_NE(a.identity, b.identity);
}

TEST(TransferKey, ShortClusterKeyIsRejected) {
  auto sut = derive_transfer_psk(std::vector<std::uint8_t>(8, 1), "c");

  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, TransferErrc::k_invalid_argument);
}

TEST(CipherPreference, WithoutAesOnlyChaChaIsOfferedWithAesChaChaComesFirstUnlessAesIsPreferred) {
  const auto without = preferred_ciphersuites(false, KeyExchange::k_psk);
  const auto with = preferred_ciphersuites(true, KeyExchange::k_psk);
  const auto aes_first = preferred_ciphersuites(true, KeyExchange::k_psk, SuiteOrder::k_aes_first);

  ASSERT_EQ(without.size(), 2u);
  EXPECT_EQ(without.front(), MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256);
  EXPECT_EQ(with, (std::vector<int>{MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384, 0}));
  EXPECT_EQ(aes_first.front(), MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384);
  EXPECT_EQ(aes_first.back(), 0);
}

}  // namespace
}  // namespace slimcache::agent::transfer
