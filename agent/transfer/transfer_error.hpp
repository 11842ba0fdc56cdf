#pragma once
// The transfer subsystem's error: a code callers branch on, plus context for people.
#include <string>

namespace slimcache::agent::transfer {

enum class TransferErrc {
  k_invalid_argument,     // a bad parameter (malformed blob id, bad option)
  k_io,                   // the local store or the OS failed
  k_connect,              // the peer could not be reached
  k_timeout,              // a network operation made no progress within the I/O timeout
  k_handshake,            // TLS handshake failed (wrong key, no common cipher suite, peer hung up)
  k_disconnected,         // the connection closed mid-transfer (the partial blob is kept)
  k_protocol,             // the peer sent something malformed or out of order
  k_too_large,            // a peer claimed a blob or chunk over the configured limits
  k_not_found,            // the peer (or the store) does not have the blob
  k_verify_failed,        // SHA-256 over the whole blob did not match its id (partial discarded)
  k_busy,                 // the blob is already being written by another transfer
  k_cancelled,            // the server or queue is stopping
  k_unsupported_version,  // the peer speaks another protocol version
  k_no_space,             // the local file system is full (ENOSPC, EDQUOT): the partial blob is discarded
};

[[nodiscard]] const char* to_string(TransferErrc code);

struct TransferError {
  TransferErrc code = TransferErrc::k_io;
  std::string message;
};

}  // namespace slimcache::agent::transfer
