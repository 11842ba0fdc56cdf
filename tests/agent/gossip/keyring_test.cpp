#include "agent/gossip/keyring.hpp"

#include <gtest/gtest.h>

namespace slimcache::agent::gossip {
namespace {

Key key_of(std::uint8_t b) {
  Key k{};
  k.fill(b);
  return k;
}
const Nonce k_nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const Bytes k_payload{'h', 'e', 'l', 'l', 'o'};

TEST(Keyring, SealedPacketOpensWithTheSameKeyAndLabel) {
  Keyring sut;
  ASSERT_TRUE(sut.install(key_of(1)).has_value());
  const Bytes sealed = sut.seal(k_payload, "prod", k_nonce);
  EXPECT_EQ(sealed.size(), k_payload.size() + k_seal_overhead);
  auto opened = sut.open(sealed, "prod");
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, k_payload);
}

TEST(Keyring, TamperedPacketFailsAuthentication) {
  Keyring sut;
  (void)sut.install(key_of(1));
  Bytes sealed = sut.seal(k_payload, "prod", k_nonce);
  for (std::size_t i = 6; i < sealed.size(); ++i) {
    Bytes t = sealed;
    t[i] ^= 0x01;
    auto opened = sut.open(t, "prod");
    ASSERT_FALSE(opened.has_value()) << "byte " << i;
    EXPECT_EQ(opened.error(), DropReason::auth_failed);
  }
}

TEST(Keyring, OtherLabelFailsAuthentication) {
  Keyring sut;
  (void)sut.install(key_of(1));
  const Bytes sealed = sut.seal(k_payload, "prod", k_nonce);
  auto opened = sut.open(sealed, "staging");
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), DropReason::auth_failed);
}

TEST(Keyring, UnknownKeyIsReportedAsSuch) {
  Keyring a, sut;
  (void)a.install(key_of(1));
  (void)sut.install(key_of(2));
  auto opened = sut.open(a.seal(k_payload, "", k_nonce), "");
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), DropReason::unknown_key);
}

TEST(Keyring, RotationKeepsTrafficFlowing) {
  Keyring old_only, sut;
  (void)old_only.install(key_of(1));
  (void)sut.install(key_of(1));
  // Install the new key: old traffic still opens, we still seal with the old one.
  ASSERT_TRUE(sut.install(key_of(2)).has_value());
  EXPECT_TRUE(sut.open(old_only.seal(k_payload, "", k_nonce), "").has_value());
  EXPECT_TRUE(old_only.open(sut.seal(k_payload, "", k_nonce), "").has_value());
  // Use the new key: the old primary can be removed afterwards, not before.
  EXPECT_FALSE(sut.remove(key_of(1)).has_value());
  ASSERT_TRUE(sut.use(key_of(2)).has_value());
  EXPECT_EQ(sut.keys().front(), key_of(2));
  ASSERT_TRUE(sut.remove(key_of(1)).has_value());
  auto opened = sut.open(old_only.seal(k_payload, "", k_nonce), "");
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), DropReason::unknown_key);
}

TEST(Keyring, UseOrRemoveOfAMissingKeyFails) {
  Keyring sut;
  EXPECT_FALSE(sut.use(key_of(3)).has_value());
  EXPECT_FALSE(sut.remove(key_of(3)).has_value());
}

TEST(Keyring, EmptyKeyringSendsPlaintextButChecksTheLabel) {
  Keyring sut;
  const Bytes plain = sut.seal(k_payload, "a", k_nonce);
  EXPECT_EQ(plain.size(), k_payload.size() + k_plain_overhead);
  EXPECT_TRUE(sut.open(plain, "a").has_value());
  auto other = sut.open(plain, "b");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error(), DropReason::wrong_label);
}

TEST(Keyring, EncryptedClusterRejectsPlaintext) {
  Keyring plain, sut;
  (void)sut.install(key_of(1));
  auto opened = sut.open(plain.seal(k_payload, "", k_nonce), "");
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error(), DropReason::auth_failed);
}

TEST(Keyring, Base64KeysRoundTripAndBadOnesFail) {
  const Key k = key_of(0x5a);
  const std::string text = key_to_base64(k);
  EXPECT_EQ(text.size(), 44u);
  auto back = key_from_base64(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, k);
  EXPECT_FALSE(key_from_base64("c2hvcnQ=").has_value());
  EXPECT_FALSE(key_from_base64("not base64 at all!").has_value());
}

TEST(Keyring, ShortOrGarbagePacketsAreDecodeErrors) {
  Keyring sut;
  (void)sut.install(key_of(1));
  for (std::size_t n = 0; n < k_seal_overhead; ++n) {
    Bytes b(n, 0x01);
    auto opened = sut.open(b, "");
    EXPECT_FALSE(opened.has_value());
  }
}

}  // namespace
}  // namespace slimcache::agent::gossip
