#pragma once
// The execution subsystem's error: a code callers branch on, plus context for people.
#include <string>

namespace slimcache::agent::exec {

enum class ExecErrc {
  k_invalid_argument,     // a bad parameter: sizes that do not match, an unknown kind or dtype
  k_truncated,            // the payload is shorter than its header or its matrices claim
  k_bad_magic,            // not an expert payload
  k_unsupported_version,  // a payload version this build does not read
  k_bad_header,           // a header field is out of range or inconsistent
  k_misaligned,           // a matrix offset or the buffer itself is not aligned as required
  k_overflow,             // a size computation would overflow
  // Execution service (exec_transport.hpp, exec_server.hpp, exec_client.hpp): appended.
  k_io,            // a socket could not be opened, connected or used
  k_timeout,       // the peer made no progress within the I/O timeout
  k_disconnected,  // the peer closed the connection
  k_cancelled,     // the server is stopping
  k_remote,        // the peer answered with an ERROR frame (message says why)
};

struct ExecError {
  ExecErrc code = ExecErrc::k_invalid_argument;
  std::string message;
};

}  // namespace slimcache::agent::exec
