#include "agent/transfer/cipher_preference.hpp"

#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/version.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) || defined(__arm__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace slimcache::agent::transfer {

bool cpu_has_aes() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & (1u << 25)) != 0;
#elif defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_AES) != 0;
#elif defined(__arm__)
  return (getauxval(AT_HWCAP2) & HWCAP2_AES) != 0;
#else
  return false;
#endif
}

bool tls_library_uses_aes_instructions() {
#if defined(__x86_64__) || defined(__i386__)
  return cpu_has_aes();  // MBEDTLS_AESNI_C
#elif (defined(__aarch64__) || defined(__arm__)) && MBEDTLS_VERSION_NUMBER >= 0x03050000
  return cpu_has_aes();  // mbedTLS 3.5+: MBEDTLS_AESCE_C
#else
  return false;
#endif
}

bool effective_aes(AesPolicy policy) {
  switch (policy) {
    case AesPolicy::k_assume_aes:
    case AesPolicy::k_prefer_aes: return true;
    case AesPolicy::k_assume_no_aes: return false;
    case AesPolicy::k_detect: break;
  }
  return tls_library_uses_aes_instructions();
}

SuiteOrder suite_order(AesPolicy policy) {
  return policy == AesPolicy::k_prefer_aes ? SuiteOrder::k_aes_first : SuiteOrder::k_chacha_first;
}

std::vector<int> preferred_ciphersuites(bool have_aes, KeyExchange exchange, SuiteOrder order) {
  std::vector<int> aes;
  std::vector<int> chacha;
  if (exchange == KeyExchange::k_psk) {
    if (have_aes) aes.push_back(MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384);
    chacha.push_back(MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256);
  } else {
    if (have_aes) {
      aes.push_back(MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
      aes.push_back(MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384);
    }
    chacha.push_back(MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
    chacha.push_back(MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256);
  }
  std::vector<int> suites = order == SuiteOrder::k_aes_first ? aes : chacha;
  const auto& rest = order == SuiteOrder::k_aes_first ? chacha : aes;
  suites.insert(suites.end(), rest.begin(), rest.end());
  suites.push_back(0);
  return suites;
}

}  // namespace slimcache::agent::transfer
