#!/usr/bin/env bash
# Installs every build and test dependency of slimcache from the distribution's
# packages. Idempotent: packages already present are left alone.
#
#   toolchains/install-deps.sh            native build + tests
#   toolchains/install-deps.sh --cross    also aarch64 and armhf cross builds (qemu-user)
#   toolchains/install-deps.sh --extras   also fuzzing/benchmark tools (clang, serf, gnuplot)
#
# Works on Debian 12 and Ubuntu 22.04+. Needs root (or sudo).
set -euo pipefail

cross=0
extras=0
for arg in "$@"; do
  case "$arg" in
    --cross) cross=1 ;;
    --extras) extras=1 ;;
    --all) cross=1; extras=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# Libraries needed for the target architecture (native, or :arm64 / :armhf).
arch_libs=(libmbedtls-dev libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev)
# Architecture-independent headers and host tools.
host_pkgs=(build-essential cmake ninja-build pkg-config git file
           libasio-dev libboost-dev libcli11-dev nlohmann-json3-dev
           glpk-utils libglpk-dev iproute2 procps python3 systemd groff-base man-db)

want=("${host_pkgs[@]}" "${arch_libs[@]}")
if [ "$extras" -eq 1 ]; then
  want+=(clang libclang-rt-14-dev serf gnuplot-nox systemd valgrind)
fi

if [ "$cross" -eq 1 ]; then
  for a in arm64 armhf; do
    if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
      $SUDO dpkg --add-architecture "$a"
      need_update=1
    fi
  done
  want+=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user binfmt-support)
  for a in arm64 armhf; do
    for p in "${arch_libs[@]}"; do want+=("$p:$a"); done
    want+=("libglpk-dev:$a")
  done
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
# A stale index for one foreign architecture makes 'apt-get update' exit non-zero
# even though the packages we need are available: let 'apt-get install' decide.
$SUDO apt-get update -q || echo "install-deps: apt-get update reported errors; continuing" >&2

# Newest version of a package that every architecture in use can install
# (Multi-Arch: same packages must have one version across architectures; a
# foreign index that lags behind the native one otherwise blocks the install).
common_version() {
  local pkg=$1 arches a v
  arches="$(dpkg --print-architecture) $(dpkg --print-foreign-architectures)"
  local -A seen=()
  local n=0
  for a in $arches; do
    n=$((n + 1))
    for v in $(apt-cache madison "$pkg:$a" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -u); do
      seen[$v]=$(( ${seen[$v]:-0} + 1 ))
    done
  done
  for v in "${!seen[@]}"; do if [ "${seen[$v]}" -eq "$n" ]; then echo "$v"; fi; done | sort -V | tail -n 1
}

pins=()
for attempt in 1 2 3 4 5 6; do
  log=$(mktemp)
  if $SUDO apt-get install -y -q --no-install-recommends --allow-downgrades "${missing[@]}" "${pins[@]}" 2>&1 | tee "$log"; then
    [ "${PIPESTATUS[0]}" -eq 0 ] && { rm -f "$log"; echo "install-deps: done"; exit 0; }
  fi
  # Pin every package apt could not line up across architectures, then retry.
  blocked=$(grep -oE "Depends: [a-z0-9.+-]+(:[a-z0-9]+)? " "$log" | awk '{print $2}' | sed 's/:.*//' | sort -u)
  rm -f "$log"
  [ -n "$blocked" ] || break
  added=0
  for pkg in $blocked; do
    v=$(common_version "$pkg")
    [ -n "$v" ] || continue
    for a in $(dpkg --print-architecture) $(dpkg --print-foreign-architectures); do
      pin="$pkg:$a=$v"
      if [[ " ${pins[*]} " != *" $pin "* ]]; then pins+=("$pin"); added=1; fi
    done
  done
  [ "$added" -eq 1 ] || break
  echo "install-deps: retrying with versions common to all architectures: ${pins[*]}" >&2
done
echo "install-deps: could not install ${missing[*]}" >&2
exit 1
