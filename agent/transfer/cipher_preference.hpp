#pragma once
// Which TLS 1.2 cipher suites to offer, from whether this CPU has AES instructions.
//
// Detection at run time: x86/x86-64 CPUID leaf 1 ECX bit 25 (AES-NI); aarch64
// getauxval(AT_HWCAP) & HWCAP_AES; 32-bit ARM getauxval(AT_HWCAP2) & HWCAP2_AES; any other
// CPU counts as without AES.
//
// "Have AES" (k_detect) means the CPU has AES instructions AND the TLS library uses them:
// mbedTLS 2.28 has AES-NI code for x86 only, so on ARM it would run AES in software tables
// (slow, not constant-time) even on cores with the ARMv8 crypto extensions: no AES there.
//
// Order (SuiteOrder::k_chacha_first, the default): TLS-PSK-WITH-CHACHA20-POLY1305-SHA256,
// then, with AES, TLS-PSK-WITH-AES-256-GCM-SHA384. With mbedTLS 2.28, ChaCha20-Poly1305 is
// faster per byte than AES-256-GCM even with AES-NI (its GHASH does one carry-less multiply
// and a full reduction per block): measured receiver 262 vs 180 MB per CPU-second on the
// build machine (docs/transfer.md, transfer_bench). AesPolicy::k_prefer_aes puts AES-GCM
// first (measurements, or peers that must use AES). Without AES only ChaCha20 is offered.
// Certificates: the ECDHE-ECDSA/ECDHE-RSA equivalents. The server keeps its own order.
#include <string>
#include <vector>

namespace slimcache::agent::transfer {

enum class AesPolicy { k_detect, k_assume_no_aes, k_assume_aes, k_prefer_aes };
enum class SuiteOrder { k_chacha_first, k_aes_first };
enum class KeyExchange { k_psk, k_certificate };

[[nodiscard]] bool cpu_has_aes();
// Whether the TLS library runs AES with this CPU's instructions (mbedTLS 2.28: x86 AES-NI).
[[nodiscard]] bool tls_library_uses_aes_instructions();
[[nodiscard]] bool effective_aes(AesPolicy policy);
// mbedTLS suite ids, preferred first, 0-terminated (as mbedtls_ssl_conf_ciphersuites wants).
[[nodiscard]] std::vector<int> preferred_ciphersuites(bool have_aes, KeyExchange exchange,
                                                      SuiteOrder order = SuiteOrder::k_chacha_first);
[[nodiscard]] SuiteOrder suite_order(AesPolicy policy);

}  // namespace slimcache::agent::transfer
