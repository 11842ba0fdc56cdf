#!/usr/bin/env bash
# Regenerates the benchmark report: docs/BENCHMARKS.md and docs/bench/*.svg.
#
#   tests/bench/report.sh [--quick] [--out FILE.md] [--build-dir DIR] [--no-cross] [--jobs J]
#
# 1. configures (once) and builds a Release build dir with the benchmarks (default build/bench):
#    slimctl, slimcached, slimcache-solver-report;
# 2. full run only, when the cross compilers are on PATH: Release builds of slimcached and
#    slimctl for aarch64 and armhf (build/bench-aarch64, build/bench-armhf) for the binary
#    sizes (--no-cross skips them; a quick run reports them only if they already exist);
# 3. runs tests/bench/report.py, which runs every bench, draws the SVGs with gnuplot, writes
#    the report and checks it (every section present, every SVG parses and is linked).
# Reads the real traces from $SLIMCACHE_TRACES_DIR (sections that need them say when skipped).
# --quick: smaller grids and windows, under 5 minutes once built. Full: under 30 minutes.
# Arguments after `--` go to report.py (e.g. `-- --slimcached OTHER/agent/slimcached`,
# `-- --solver-report-output docs/bench/raw/solver-report.txt` to reuse the last placement run).
# Exit 0 when the report was written and checked; non-zero otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
quick=0
out="$root/docs/BENCHMARKS.md"
build="$root/build/bench"
cross=1
jobs=2
shown="tests/bench/report.sh"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shown+=" --quick" ;;
    --out) out=$2; shift; shown+=" --out $out" ;;
    --build-dir) build=$2; shift ;;
    --no-cross) cross=0; shown+=" --no-cross" ;;
    --jobs) jobs=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    --) shift; extra=("$@"); shown+=" -- $*"; break ;;
    *) echo "report.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

for tool in cmake ninja gnuplot python3; do
  command -v "$tool" >/dev/null || { echo "report.sh: '$tool' is not installed (toolchains/install-deps.sh --extras)" >&2; exit 2; }
done
if [ -z "${SLIMCACHE_TRACES_DIR:-}" ]; then
  echo "report.sh: SLIMCACHE_TRACES_DIR is unset: the trace-based figures will be skipped" >&2
fi

targets=(slimctl slimcached slimcache-solver-report)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMCACHE_BUILD_BENCHMARKS=ON >&2
fi
cmake --build "$build" --target "${targets[@]}" -j"$jobs" >&2

cross_args=()
for pair in aarch64:aarch64-linux-gnu armhf:arm-linux-gnueabihf; do
  arch=${pair%%:*}
  triple=${pair#*:}
  dir="$root/build/bench-$arch"
  if [ "$quick" -eq 0 ] && [ "$cross" -eq 1 ] && command -v "$triple-g++" >/dev/null; then
    if { [ -f "$dir/CMakeCache.txt" ] || cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
           -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/$triple.cmake" -DSLIMCACHE_BUILD_TESTS=OFF \
           -DSLIMCACHE_BUILD_BENCHMARKS=OFF >&2; } &&
       cmake --build "$dir" --target slimcached slimctl -j"$jobs" >&2; then
      :
    else
      echo "report.sh: the $arch cross build failed; its sizes are reported as not built" >&2
    fi
  fi
  # sizes are read when the footprint section runs: a build finishing meanwhile is included
  if [ -f "$dir/CMakeCache.txt" ]; then cross_args+=(--cross-dir "$arch=$dir"); fi
done

args=(--build "$build" --out "$out" --command "$shown")
[ "$quick" -eq 1 ] && args+=(--quick)
exec python3 "$root/tests/bench/report.py" "${args[@]}" "${cross_args[@]}" "${extra[@]}"
