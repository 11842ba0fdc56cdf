#pragma once
// Which TLS 1.2 cipher suites to offer, from whether this CPU has AES instructions.
//
// Detection at run time: x86/x86-64 CPUID leaf 1 ECX bit 25 (AES-NI); aarch64
// getauxval(AT_HWCAP) & HWCAP_AES; 32-bit ARM getauxval(AT_HWCAP2) & HWCAP2_AES; any other
// CPU counts as without AES.
//
// With AES:    TLS-PSK-WITH-AES-256-GCM-SHA384, then TLS-PSK-WITH-CHACHA20-POLY1305-SHA256.
// Without AES: TLS-PSK-WITH-CHACHA20-POLY1305-SHA256 only (software AES-GCM is slow and not
//              constant-time). Certificates: the ECDHE-ECDSA/ECDHE-RSA equivalents.
// So AES-256-GCM is negotiated exactly when both ends have AES instructions, ChaCha20-Poly1305
// otherwise (the server keeps its own order; the client without AES offers no AES).
#include <string>
#include <vector>

namespace slimcache::agent::transfer {

enum class AesPolicy { k_detect, k_assume_no_aes, k_assume_aes };
enum class KeyExchange { k_psk, k_certificate };

[[nodiscard]] bool cpu_has_aes();
[[nodiscard]] bool effective_aes(AesPolicy policy);
// mbedTLS suite ids, preferred first, 0-terminated (as mbedtls_ssl_conf_ciphersuites wants).
[[nodiscard]] std::vector<int> preferred_ciphersuites(bool have_aes, KeyExchange exchange);

}  // namespace slimcache::agent::transfer
