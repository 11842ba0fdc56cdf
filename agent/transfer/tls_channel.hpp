#pragma once
// TLS 1.2 (mbedTLS 2.28) over a TcpSocket, for the transfer threads.
//
// TlsContext holds what every connection of one side shares: the role, the PSK (or the CA,
// certificate and key files), the cipher suite preference (cipher_preference.hpp) and the
// random generator. Create one per server or client; it is immutable after create() and
// may be used by many threads at once (mbedTLS is built with MBEDTLS_THREADING_C).
//
// TlsChannel is one connection: handshake() then read_exact()/write_all(). Every blocking
// step waits at most the I/O timeout without progress (k_timeout) and stops at once when the
// cancel fd becomes readable (k_cancelled). A wrong PSK fails the handshake on both sides
// with k_handshake; a peer that vanishes gives k_disconnected. close() sends close_notify;
// abort() cuts the TCP connection without it (used by tests to kill a transfer).
// A channel kept for reuse (protocol version 3 sessions) takes the next user's timeout and
// cancel fd (set_io()); reusable() tells whether it is still open with nothing unread (a
// peer that closed an idle session has sent close_notify or EOF, which makes it readable).
// Threads: one thread per channel at a time.
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/transfer/cipher_preference.hpp"
#include "agent/transfer/tcp_socket.hpp"
#include "agent/transfer/transfer_key.hpp"

namespace slimcache::agent::transfer {

enum class TlsRole { k_client, k_server };

struct CertificateFiles {
  std::string ca_file;    // PEM: peers must chain to this CA
  std::string cert_file;  // PEM: this node's certificate
  std::string key_file;   // PEM: its private key
};

struct TlsSettings {
  TlsRole role = TlsRole::k_client;
  std::optional<TransferPsk> psk;                 // exactly one of psk / certificates
  std::optional<CertificateFiles> certificates;
  AesPolicy aes = AesPolicy::k_detect;
};

class TlsContext {
 public:
  [[nodiscard]] static Expected<std::shared_ptr<TlsContext>, TransferError> create(const TlsSettings& settings);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  [[nodiscard]] TlsRole role() const { return m_role; }
  // The suites this side offers (client) or accepts in order (server), by name.
  [[nodiscard]] std::vector<std::string> ciphersuite_names() const;

 private:
  friend class TlsChannel;
  TlsContext() = default;
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  TlsRole m_role = TlsRole::k_client;
};

class TlsChannel {
 public:
  // Runs the handshake on a connected socket. k_handshake, k_timeout, k_cancelled.
  [[nodiscard]] static Expected<std::unique_ptr<TlsChannel>, TransferError> handshake(
      std::shared_ptr<TlsContext> context, TcpSocket socket, IoTimeout timeout, int cancel_fd = -1);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  [[nodiscard]] Expected<void, TransferError> write_all(std::span<const std::byte> bytes);
  // Fills `dest` completely or fails (k_disconnected if the peer closed first).
  [[nodiscard]] Expected<void, TransferError> read_exact(std::span<std::byte> dest);
  [[nodiscard]] std::string ciphersuite() const;
  void set_io(IoTimeout timeout, int cancel_fd);
  [[nodiscard]] bool reusable() const;
  void close();
  void abort();

 private:
  TlsChannel() = default;
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace slimcache::agent::transfer
