#!/usr/bin/env bash
# Builds the slimcache .deb for amd64, arm64 and armhf (Release, cross-compiled with the
# toolchains in toolchains/; `bash toolchains/install-deps.sh --cross` installs the cross
# compilers and the :arm64/:armhf libraries), checks each with tests/system/check_package.sh
# and runs lintian on it when lintian is installed. The packages end up in OUT_DIR.
#
#   agent/dist/build_debs.sh [--jobs N] [--arch amd64|arm64|armhf]... [--dir ARCH=DIR]... [OUT_DIR]
#
# Build directories: build/deb-<arch> unless --dir names another (an existing Release build
# directory for that architecture is reused; rerunning rebuilds only what changed).
# Only the packaged targets are built (slimcached, slimctl, the client library, the man
# pages); tests and benchmarks are off. Depends is computed per architecture by
# agent/dist/debian_depends.cmake from what the binaries link (docs/packaging.md).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
jobs=2
arches=()
declare -A dirs=()
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --arch) arches+=("$2"); shift 2 ;;
    --dir) dirs[${2%%=*}]=${2#*=}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "build_debs: unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)
out=${out:-$src/build/debs}
mkdir -p "$out"

for arch in "${arches[@]}"; do
  case "$arch" in
    amd64) toolchain=() ;;
    arm64) toolchain=(-DCMAKE_TOOLCHAIN_FILE="$src/toolchains/aarch64-linux-gnu.cmake") ;;
    armhf) toolchain=(-DCMAKE_TOOLCHAIN_FILE="$src/toolchains/arm-linux-gnueabihf.cmake") ;;
    *) echo "build_debs: unknown architecture $arch" >&2; exit 2 ;;
  esac
  dir=${dirs[$arch]:-$src/build/deb-$arch}
  echo "=== $arch ($dir)"
  if [ -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$dir" >/dev/null
  else
    cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMCACHE_BUILD_TESTS=OFF \
          -DSLIMCACHE_BUILD_BENCHMARKS=OFF "${toolchain[@]}" >/dev/null
  fi
  cmake --build "$dir" --target slimcached slimctl slimcache_client slimcache_man -j "$jobs"
  (cd "$dir" && cpack -G DEB -B "$dir/cpack" >/dev/null)
  deb="$dir/cpack/slimcache_$(sed -nE 's/^project\(slimcache VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")_$arch.deb"
  cp "$deb" "$out/"
  bash "$src/tests/system/check_package.sh" "$dir" "$arch"
  if command -v lintian >/dev/null; then
    echo "--- lintian $(basename "$deb")"
    lintian --no-tag-display-limit "$deb" || true
  fi
done
echo "=== packages"
ls -l "$out"/*.deb
