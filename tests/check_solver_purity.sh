#!/usr/bin/env bash
# Fails when solver/ includes anything but the standard library and solver/ itself:
# no Asio, Boost, mbedTLS, TOML++, JSON, platform/, agent/, config/, and no I/O headers.
#   check_solver_purity.sh [SOLVER_DIR]       (default: the solver/ beside this script)
#   check_solver_purity.sh --self-test        proves the check fails on a forbidden include
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

check() {
  local dir=$1 bad
  bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$dir" --include='*.hpp' --include='*.cpp' --include='*.h' \
    | grep -vE '#[[:space:]]*include[[:space:]]*"solver/[a-z0-9_/]+\.hpp"' \
    | grep -vE '#[[:space:]]*include[[:space:]]*<[a-z_]+>' || true)
  # Standard headers that do I/O or touch the OS are not allowed either.
  bad+=$(grep -rnE '#[[:space:]]*include[[:space:]]*<(fstream|iostream|cstdio|filesystem|thread|print|syncstream|stdio\.h)>' \
    "$dir" --include='*.hpp' --include='*.cpp' --include='*.h' || true)
  if [ -n "$bad" ]; then
    echo "solver purity check FAILED: solver/ may include only standard headers (without I/O) and solver/ headers:" >&2
    echo "$bad" >&2
    return 1
  fi
  echo "solver purity check passed: $dir"
}

if [ "${1:-}" = "--self-test" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp -r "$here/../solver" "$tmp/solver"
  check "$tmp/solver" >/dev/null || { echo "self-test: the clean solver/ copy must pass" >&2; exit 1; }
  for bad in '<asio.hpp>' '<boost/interprocess/managed_shared_memory.hpp>' '<mbedtls/gcm.h>' \
             '<toml++/toml.h>' '"platform/clock.hpp"' '"agent/version.hpp"' '<fstream>' '<unistd.h>'; do
    echo "#include $bad" > "$tmp/solver/impure_probe.hpp"
    if check "$tmp/solver" 2>/dev/null >&2; then
      echo "self-test FAILED: the check accepted #include $bad" >&2
      exit 1
    fi
    echo "self-test: rejected #include $bad"
  done
  echo "self-test passed"
  exit 0
fi

check "${1:-$here/../solver}"
