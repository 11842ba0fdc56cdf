#include "agent/transfer/cipher_preference.hpp"

#include <mbedtls/ssl_ciphersuites.h>

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

bool effective_aes(AesPolicy policy) {
  switch (policy) {
    case AesPolicy::k_assume_aes: return true;
    case AesPolicy::k_assume_no_aes: return false;
    case AesPolicy::k_detect: break;
  }
  return cpu_has_aes();
}

std::vector<int> preferred_ciphersuites(bool have_aes, KeyExchange exchange) {
  std::vector<int> suites;
  if (exchange == KeyExchange::k_psk) {
    if (have_aes) suites.push_back(MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384);
    suites.push_back(MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256);
  } else {
    if (have_aes) {
      suites.push_back(MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);
      suites.push_back(MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384);
    }
    suites.push_back(MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
    suites.push_back(MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256);
  }
  suites.push_back(0);
  return suites;
}

}  // namespace slimcache::agent::transfer
