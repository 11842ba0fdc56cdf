#pragma once
// A transfer server on 127.0.0.1 and the TLS contexts of both ends, shared by the protocol
// tests (sessions, striping). Each test names its own key byte and PSK label.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/transfer/transfer_key.hpp"
#include "agent/transfer/transfer_server.hpp"

namespace slimcache::agent::transfer::testing {

inline constexpr IoTimeout k_loopback_timeout{10000};

inline std::shared_ptr<TlsContext> loopback_context(TlsRole role, std::uint8_t key_byte, std::string_view label) {
  const std::vector<std::uint8_t> cluster_key(32, key_byte);
  TlsSettings settings;
  settings.role = role;
  settings.psk = derive_transfer_psk(cluster_key, label).value();
  return TlsContext::create(settings).value();
}

// 64 KiB chunks, the loopback timeout and 4 parallel requests; other options as given.
inline std::unique_ptr<TransferServer> start_loopback_server(std::shared_ptr<TlsContext> context, BlobStore& store,
                                                             ServerOptions options = {}) {
  options.chunk_size = 64 * 1024;
  options.io_timeout = k_loopback_timeout;
  options.max_parallel = 4;
  auto server = TransferServer::start(std::move(context), store, options);
  EXPECT_TRUE(server.has_value()) << server.error().message;
  return std::move(server).value();
}

}  // namespace slimcache::agent::transfer::testing
