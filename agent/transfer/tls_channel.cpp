#include "agent/transfer/tls_channel.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace slimcache::agent::transfer {
namespace {

std::string mbedtls_message(int rc) {
  char buf[160] = {};
  mbedtls_strerror(rc, buf, sizeof(buf));
  return std::string(buf) + " (-0x" + [rc] {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned v = static_cast<unsigned>(-rc); v != 0; v >>= 4) hex.insert(hex.begin(), k_digits[v & 0xF]);
    return hex.empty() ? std::string("0") : hex;
  }() + ")";
}

Unexpected<TransferError> tls_error(TransferErrc code, const std::string& what, int rc) {
  return Unexpected(TransferError{code, what + ": " + mbedtls_message(rc)});
}

}  // namespace

// ---------------------------------------------------------------- context
struct TlsContext::Impl {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config config;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  std::vector<int> suites;
  Impl() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_config_init(&config);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
  }
  ~Impl() {
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&cert);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ssl_config_free(&config);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

TlsContext::~TlsContext() = default;

Expected<std::shared_ptr<TlsContext>, TransferError> TlsContext::create(const TlsSettings& settings) {
  if (settings.psk.has_value() == settings.certificates.has_value()) {
    return Unexpected(TransferError{TransferErrc::k_invalid_argument, "configure exactly one of a PSK or certificates"});
  }
  std::shared_ptr<TlsContext> context(new TlsContext());
  context->m_role = settings.role;
  context->m_impl = std::make_unique<Impl>();
  Impl& impl = *context->m_impl;
  static constexpr char k_personal[] = "slimcache transfer";
  int rc = mbedtls_ctr_drbg_seed(&impl.drbg, mbedtls_entropy_func, &impl.entropy,
                                 reinterpret_cast<const unsigned char*>(k_personal), sizeof(k_personal) - 1);
  if (rc != 0) return tls_error(TransferErrc::k_io, "seeding the random generator", rc);
  rc = mbedtls_ssl_config_defaults(&impl.config,
                                   settings.role == TlsRole::k_server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                   MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return tls_error(TransferErrc::k_io, "TLS defaults", rc);
  mbedtls_ssl_conf_rng(&impl.config, mbedtls_ctr_drbg_random, &impl.drbg);
  mbedtls_ssl_conf_min_version(&impl.config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&impl.config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_renegotiation(&impl.config, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  const bool have_aes = effective_aes(settings.aes);
  if (settings.psk) {
    impl.suites = preferred_ciphersuites(have_aes, KeyExchange::k_psk, suite_order(settings.aes));
    const TransferPsk& psk = *settings.psk;
    rc = mbedtls_ssl_conf_psk(&impl.config, psk.key.data(), psk.key.size(),
                              reinterpret_cast<const unsigned char*>(psk.identity.data()), psk.identity.size());
    if (rc != 0) return tls_error(TransferErrc::k_invalid_argument, "PSK", rc);
    // A server accepts any identity with this PSK: a wrong key fails at Finished anyway.
  } else {
    impl.suites = preferred_ciphersuites(have_aes, KeyExchange::k_certificate, suite_order(settings.aes));
    const CertificateFiles& files = *settings.certificates;
    rc = mbedtls_x509_crt_parse_file(&impl.ca, files.ca_file.c_str());
    if (rc != 0) return tls_error(TransferErrc::k_invalid_argument, "CA file " + files.ca_file, rc);
    rc = mbedtls_x509_crt_parse_file(&impl.cert, files.cert_file.c_str());
    if (rc != 0) return tls_error(TransferErrc::k_invalid_argument, "certificate file " + files.cert_file, rc);
    rc = mbedtls_pk_parse_keyfile(&impl.key, files.key_file.c_str(), nullptr);
    if (rc != 0) return tls_error(TransferErrc::k_invalid_argument, "key file " + files.key_file, rc);
    mbedtls_ssl_conf_ca_chain(&impl.config, &impl.ca, nullptr);
    rc = mbedtls_ssl_conf_own_cert(&impl.config, &impl.cert, &impl.key);
    if (rc != 0) return tls_error(TransferErrc::k_invalid_argument, "certificate and key", rc);
    mbedtls_ssl_conf_authmode(&impl.config, MBEDTLS_SSL_VERIFY_REQUIRED);
  }
  mbedtls_ssl_conf_ciphersuites(&impl.config, impl.suites.data());
  return context;
}

std::vector<std::string> TlsContext::ciphersuite_names() const {
  std::vector<std::string> names;
  for (int id : m_impl->suites) {
    if (id != 0) names.emplace_back(mbedtls_ssl_get_ciphersuite_name(id));
  }
  return names;
}

// ---------------------------------------------------------------- channel
struct TlsChannel::Impl {
  std::shared_ptr<TlsContext> context;
  TcpSocket socket;
  IoTimeout timeout{};
  int cancel_fd = -1;
  mbedtls_ssl_context ssl;
  bool open = true;
  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  static int send_cb(void* self, const unsigned char* buf, std::size_t len) {
    auto* impl = static_cast<Impl*>(self);
    const ssize_t n = ::send(impl->socket.fd(), buf, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
  static int recv_cb(void* self, unsigned char* buf, std::size_t len) {
    auto* impl = static_cast<Impl*>(self);
    const ssize_t n = ::recv(impl->socket.fd(), buf, len, 0);
    if (n >= 0) return static_cast<int>(n);  // 0 = EOF
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }

  // Runs an mbedTLS step until it stops asking to wait. Returns its result (>= 0) or an error.
  template <typename Step>
  Expected<int, TransferError> drive(Step step, TransferErrc failure, const char* what) {
    for (;;) {
      const int rc = step();
      if (rc >= 0) return rc;
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        auto waited = socket.wait(rc == MBEDTLS_ERR_SSL_WANT_READ ? WaitFor::k_read : WaitFor::k_write, timeout, cancel_fd);
        if (!waited) {
          auto e = waited.error();
          e.message = std::string(what) + ": " + e.message;
          return Unexpected(e);
        }
        continue;
      }
      if (failure != TransferErrc::k_handshake &&
          (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF || rc == MBEDTLS_ERR_NET_CONN_RESET)) {
        return tls_error(TransferErrc::k_disconnected, what, rc);
      }
      return tls_error(failure, what, rc);
    }
  }
};

TlsChannel::~TlsChannel() = default;

Expected<std::unique_ptr<TlsChannel>, TransferError> TlsChannel::handshake(std::shared_ptr<TlsContext> context,
                                                                           TcpSocket socket, IoTimeout timeout,
                                                                           int cancel_fd) {
  std::unique_ptr<TlsChannel> channel(new TlsChannel());
  channel->m_impl = std::make_unique<Impl>();
  Impl& impl = *channel->m_impl;
  impl.context = std::move(context);
  impl.socket = std::move(socket);
  impl.timeout = timeout;
  impl.cancel_fd = cancel_fd;
  int rc = mbedtls_ssl_setup(&impl.ssl, &impl.context->m_impl->config);
  if (rc != 0) return tls_error(TransferErrc::k_io, "TLS setup", rc);
  mbedtls_ssl_set_bio(&impl.ssl, &impl, &Impl::send_cb, &Impl::recv_cb, nullptr);
  auto done = impl.drive([&] { return mbedtls_ssl_handshake(&impl.ssl); }, TransferErrc::k_handshake, "TLS handshake");
  if (!done) return Unexpected(std::move(done).error());
  return channel;
}

Expected<void, TransferError> TlsChannel::write_all(std::span<const std::byte> bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    SLIM_TRY(const int n, m_impl->drive(
                              [&] {
                                return mbedtls_ssl_write(&m_impl->ssl,
                                                         reinterpret_cast<const unsigned char*>(bytes.data() + sent),
                                                         bytes.size() - sent);
                              },
                              TransferErrc::k_disconnected, "TLS write"));
    sent += static_cast<std::size_t>(n);
  }
  return {};
}

Expected<void, TransferError> TlsChannel::read_exact(std::span<std::byte> dest) {
  std::size_t got = 0;
  while (got < dest.size()) {
    SLIM_TRY(const int n, m_impl->drive(
                              [&] {
                                return mbedtls_ssl_read(&m_impl->ssl, reinterpret_cast<unsigned char*>(dest.data() + got),
                                                        dest.size() - got);
                              },
                              TransferErrc::k_disconnected, "TLS read"));
    if (n == 0) return Unexpected(TransferError{TransferErrc::k_disconnected, "TLS read: the peer closed the connection"});
    got += static_cast<std::size_t>(n);
  }
  return {};
}

std::string TlsChannel::ciphersuite() const { return mbedtls_ssl_get_ciphersuite(&m_impl->ssl); }

void TlsChannel::set_io(IoTimeout timeout, int cancel_fd) {
  m_impl->timeout = timeout;
  m_impl->cancel_fd = cancel_fd;
}

bool TlsChannel::reusable() const {
  if (!m_impl->open || mbedtls_ssl_get_bytes_avail(&m_impl->ssl) != 0) return false;
  pollfd p{m_impl->socket.fd(), POLLIN, 0};
  const int n = ::poll(&p, 1, 0);
  return n == 0;  // nothing readable: no close_notify, no EOF, no error
}

void TlsChannel::close() {
  if (!m_impl->open) return;
  m_impl->open = false;
  // Best effort, bounded: one attempt, the peer may already be gone.
  (void)mbedtls_ssl_close_notify(&m_impl->ssl);
  m_impl->socket.shutdown_and_close();
}

void TlsChannel::abort() {
  m_impl->open = false;
  m_impl->socket.shutdown_and_close();
}

}  // namespace slimcache::agent::transfer
