// transfer_bench: verified TLS transfer throughput on loopback beside a plain TCP copy of the
// same bytes in the same run, and the negotiated cipher suite. Build with Release:
//   transfer_bench [--size-mib 512] [--chunk-kib 1024] [--suite aes|default|both] [--stripes N]
// Each suite runs over one connection and, with --stripes N > 1 (default 2), over N
// connections at once (protocol version 2 ranges, TransferClient::ClientOptions::stripes).
// "verified" = the receiver hashes every byte with SHA-256 and checks it against the blob id
// before the blob becomes visible in its store (MemoryBlobStore, no disk).
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "agent/transfer/memory_blob_store.hpp"
#include "agent/transfer/transfer_client.hpp"
#include "agent/transfer/transfer_server.hpp"

using namespace slimcache::agent::transfer;

namespace {

double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::byte> make_blob(std::size_t size) {
  std::mt19937_64 rng(42);
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

// Plain TCP: one thread sends the bytes, this one receives them into a buffer.
double plain_tcp_copy(const std::vector<std::byte>& blob, std::vector<std::byte>& sink) {
  auto listener = TcpListener::listen("127.0.0.1", 0).value();
  const auto t0 = std::chrono::steady_clock::now();
  std::thread sender([&] {
    auto socket = listener.accept(IoTimeout{10000}, -1);
    if (!socket) return;
    std::size_t sent = 0;
    while (sent < blob.size()) {
      const ssize_t n = ::send(socket->fd(), blob.data() + sent, std::min<std::size_t>(blob.size() - sent, 1 << 20), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (!socket->wait(WaitFor::k_write, IoTimeout{10000})) {
        return;
      }
    }
  });
  auto socket = connect_tcp("127.0.0.1", listener.port(), IoTimeout{10000}).value();
  std::size_t got = 0;
  while (got < sink.size()) {
    const ssize_t n = ::recv(socket.fd(), sink.data() + got, std::min<std::size_t>(sink.size() - got, 1 << 20), 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n == 0 || !socket.wait(WaitFor::k_read, IoTimeout{10000})) {
      break;
    }
  }
  const double s = seconds_since(t0);
  sender.join();
  if (got != blob.size() || std::memcmp(sink.data(), blob.data(), blob.size()) != 0) {
    std::fprintf(stderr, "plain TCP copy incomplete or wrong (%zu bytes)\n", got);
  }
  return s;
}

int tls_run(const char* label, AesPolicy aes, MemoryBlobStore& origin, const BlobId& id, std::size_t size,
            std::uint32_t chunk, std::size_t stripes) {
  const std::vector<std::uint8_t> cluster_key(32, 0x5C);
  const auto psk = derive_transfer_psk(cluster_key, "bench").value();
  TlsSettings server_settings{TlsRole::k_server, psk, std::nullopt, aes};
  TlsSettings client_settings{TlsRole::k_client, psk, std::nullopt, aes};
  ServerOptions options;
  options.chunk_size = chunk;
  options.max_parallel = std::max<std::size_t>(4, stripes);
  auto server = TransferServer::start(TlsContext::create(server_settings).value(), origin, options);
  if (!server) {
    std::fprintf(stderr, "server: %s\n", server.error().message.c_str());
    return 1;
  }
  MemoryBlobStore receiver;
  ClientOptions client_options;
  client_options.limits.max_chunk_size = chunk;
  client_options.stripes = stripes;
  TransferClient client(TlsContext::create(client_settings).value(), receiver, client_options);
  const double process0 = cpu_seconds(RUSAGE_SELF);
  const double receiver0 = cpu_seconds(RUSAGE_THREAD);
  const auto t0 = std::chrono::steady_clock::now();
  auto result = client.fetch(Endpoint{"127.0.0.1", (*server)->port()}, id, -1, size);
  const double s = seconds_since(t0);
  const double receiver_cpu = cpu_seconds(RUSAGE_THREAD) - receiver0;
  const double sender_cpu = cpu_seconds(RUSAGE_SELF) - process0 - receiver_cpu;
  if (!result) {
    std::fprintf(stderr, "TLS fetch failed: %s\n", result.error().message.c_str());
    return 1;
  }
  const double mb = static_cast<double>(size) / 1e6;
  const std::string name = std::string(label) + ", " + std::to_string(result->stripes) + " conn";
  std::printf("%-32s %-40s %8.1f MB/s  (%.2f s, SHA-256 verified: %s)\n", name.c_str(), result->ciphersuite.c_str(),
              mb / s, s, receiver.has(id) ? "yes" : "NO");
  if (result->stripes > 1) {
    // Receiver work is spread over several threads here: report the process's CPU.
    const double total_cpu = cpu_seconds(RUSAGE_SELF) - process0;
    const double cores = static_cast<double>(std::thread::hardware_concurrency());
    std::printf("%-32s both sides %.1f MB/cpu-s -> %.1f MB/s if both sides share %.0f idle cores\n", "",
                mb / total_cpu, mb / total_cpu * cores, cores);
    return receiver.has(id) ? 0 : 1;
  }
  // CPU time is what the machine's load does not change: MB per CPU-second on each side,
  // and the rate the slower side allows when each side has a core to itself.
  std::printf("%-32s sender %.1f MB/cpu-s, receiver (decrypt + SHA-256) %.1f MB/cpu-s -> %.1f MB/s with a core each\n",
              "", mb / sender_cpu, mb / receiver_cpu, mb / std::max(sender_cpu, receiver_cpu));
  return receiver.has(id) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t size_mib = 512;
  std::uint32_t chunk_kib = 1024;
  std::string suite = "both";
  std::size_t stripes = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--size-mib") size_mib = std::stoul(argv[i + 1]);
    else if (flag == "--chunk-kib") chunk_kib = static_cast<std::uint32_t>(std::stoul(argv[i + 1]));
    else if (flag == "--suite") suite = argv[i + 1];
    else if (flag == "--stripes") stripes = std::max<std::size_t>(1, std::stoul(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: transfer_bench [--size-mib N] [--chunk-kib N] [--suite aes|default|both] [--stripes N]\n");
      return 2;
    }
  }
  const std::size_t size = size_mib << 20;
  std::printf("blob %zu MiB, chunk %u KiB, CPU AES instructions: %s, hardware threads: %u\n", size_mib, chunk_kib,
              cpu_has_aes() ? "yes" : "no", std::thread::hardware_concurrency());
  MemoryBlobStore origin;
  auto bytes = make_blob(size);
  const double sha0 = cpu_seconds(RUSAGE_THREAD);
  const BlobId id = origin.put(std::move(bytes));
  std::printf("%-32s %-40s %8.1f MB/cpu-s (for reference)\n",
              Sha256Stream::accelerated() ? "sha256 (SHA extensions)" : "sha256 (mbedTLS)", "-",
              static_cast<double>(size) / (cpu_seconds(RUSAGE_THREAD) - sha0) / 1e6);
  const auto blob = origin.contents(id);
  std::vector<std::byte> sink(size);
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  const double plain = plain_tcp_copy(blob, sink);
  const double plain_cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  std::printf("%-32s %-40s %8.1f MB/s  (%.2f s, %.1f MB/cpu-s both sides together)\n", "plain TCP copy", "-",
              static_cast<double>(size) / plain / 1e6, plain, static_cast<double>(size) / plain_cpu / 1e6);
  std::printf("load average now: %s\n", [] {
    char buf[64] = {};
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
      if (std::fgets(buf, sizeof(buf), f) == nullptr) buf[0] = 0;
      std::fclose(f);
    }
    std::string text(buf);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }().c_str());
  int rc = 0;
  std::vector<std::size_t> runs{1};
  if (stripes > 1) runs.push_back(stripes);
  for (std::size_t n : runs) {
    if (suite == "aes" || suite == "both")
      rc |= tls_run("TLS verified (AES-GCM first)", AesPolicy::k_prefer_aes, origin, id, size, chunk_kib << 10, n);
    if (suite == "default" || suite == "both")
      rc |= tls_run("TLS verified (default)", AesPolicy::k_detect, origin, id, size, chunk_kib << 10, n);
  }
  return rc;
}
