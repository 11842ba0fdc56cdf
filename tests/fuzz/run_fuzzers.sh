#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan+fuzzer) and runs each one.
#   tests/fuzz/run_fuzzers.sh [--seconds N] [TARGET...]
# Default: 60 s per target (CI uses a short time; the long form is --seconds 600).
# New inputs found are written to build/fuzz/corpus/<target>; crashes to build/fuzz/crashes/.
# Exits non-zero on the first finding.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
build="$root/build/fuzz"
# -fsanitize=fuzzer-no-link: coverage instrumentation in every library too, so that libFuzzer
# sees the decoders' branches, not only the target's own file.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  -DSLIMCACHE_FUZZ=ON -DSLIMCACHE_SANITIZE='address;undefined' -DSLIMCACHE_BUILD_BENCHMARKS=OFF \
  -DSLIMCACHE_WITH_MILP=OFF >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^slimcache_add_fuzz_target(\([a-z_]*\).*/\1/p' "$root/tests/fuzz/CMakeLists.txt")
fi
cmake --build "$build" --target $(printf 'fuzz_%s ' "${targets[@]}")
mkdir -p "$build/crashes"
total=0
for t in "${targets[@]}"; do
  bin=$(find "$build/tests/fuzz" -name "fuzz_$t" -type f | head -n 1)
  work="$build/corpus/$t"
  mkdir -p "$work"
  echo "== fuzz_$t for ${seconds}s"
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" \
    -max_len=65536 "$work" "$root/tests/fuzz/corpus/$t" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss|#[0-9]+ +DONE)|ERROR|SUMMARY' || true
  if ls "$build/crashes/$t-"* >/dev/null 2>&1; then
    echo "fuzz_$t: FINDING, reproducer in $build/crashes" >&2
    exit 1
  fi
  total=$((total + 1))
done
echo "fuzzed $total targets for ${seconds}s each: no findings"
