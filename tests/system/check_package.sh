#!/usr/bin/env bash
# Builds the .deb of a build directory with cpack and checks it (docs/packaging.md):
#   contents (dpkg-deb -c): binaries, client library and header, unit, sysusers/tmpfiles
#     snippets, example configuration, gzipped man pages, bash completion;
#   binaries and library stripped (no .symtab);
#   control fields (dpkg-deb -f): package, version, architecture, maintainer, description,
#     Depends naming a package for every shared library the binaries need;
#   control members (dpkg-deb --info): postinst, prerm, md5sums;
#   installation into a scratch root: systemd-sysusers and systemd-tmpfiles --root create
#     the user and directories, and `systemd-analyze verify` prints nothing for the extracted
#     unit run on the extracted binary (skipped, with a message, without systemd's tools).
# Exit 77 (skipped) without cpack or dpkg-deb.
#   check_package.sh BUILD_DIR [ARCH]      ARCH: amd64, arm64, armhf (default: the build's)
set -euo pipefail
build=$(cd "${1:?usage: check_package.sh BUILD_DIR [ARCH]}" && pwd)
want_arch=${2:-}
for tool in cpack dpkg-deb readelf; do
  command -v "$tool" >/dev/null || { echo "$tool not installed: skipped"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# cpack into a scratch directory (the build directory is left as it is).
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  echo "check_package: cpack failed" >&2
  exit 1
fi
deb=$(ls "$tmp"/out/*.deb)
[ -n "$want_arch" ] || want_arch=$(dpkg-deb -f "$deb" Architecture)
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

# ---------------------------------------------------------------- contents
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/sbin/slimcached ./usr/bin/slimctl \
         ./usr/lib/libslimcache-client.so.1 ./usr/include/slimcache/client.h \
         ./usr/lib/systemd/system/slimcached.service \
         ./usr/lib/sysusers.d/slimcache.conf ./usr/lib/tmpfiles.d/slimcache.conf \
         ./usr/share/doc/slimcache/examples/slimcached.toml \
         ./usr/share/doc/slimcache/copyright ./usr/share/doc/slimcache/changelog.gz \
         ./usr/share/man/man1/slimctl.1.gz ./usr/share/man/man8/slimcached.8.gz \
         ./usr/share/man/man5/slimcached.toml.5.gz \
         ./usr/share/bash-completion/completions/slimctl; do
  grep -qxF "$f" <<<"$contents" || fail "the package lacks $f"
done
grep -qE '^\./usr/share/man/.*[^z]$' <<<"$(grep -E '^\./usr/share/man/man[0-9]/.' <<<"$contents")" &&
  fail "uncompressed man pages: $(grep -E '^\./usr/share/man/man[0-9]/.*[^z]$' <<<"$contents" | tr '\n' ' ')"
grep -qE '^\./usr/local/|^\./home/|^\./work/' <<<"$contents" && fail "files outside /usr and /etc"

# ---------------------------------------------------------------- control
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = slimcache ] || fail "Package is '$(field Package)'"
[ "$(field Architecture)" = "$want_arch" ] || fail "Architecture is '$(field Architecture)', want $want_arch"
[ -n "$(field Version)" ] || fail "no Version"
[[ "$(field Maintainer)" == *@* ]] || fail "Maintainer '$(field Maintainer)' has no address"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
echo "Depends: $depends"
info=$(dpkg-deb --info "$deb")
for member in postinst prerm md5sums; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines( +\*)? +$member" <<<"$info" || fail "control member $member missing"
done

# ---------------------------------------------------------------- binaries
root="$tmp/root"
dpkg-deb -x "$deb" "$root"
for elf in usr/sbin/slimcached usr/bin/slimctl usr/lib/libslimcache-client.so.1; do
  [ -f "$root/$elf" ] || continue
  grep -q '\.symtab' <<<"$(readelf -S --wide "$root/$elf")" && fail "$elf is not stripped"
  # Every needed shared library comes from a package named in Depends (from the shlibs
  # files of the target architecture, as debian_depends.cmake resolves them).
  for so in $(readelf -d "$root/$elf" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p'); do
    lib=${so%%.so.*}; ver=${so#*.so.}
    # awk reads the files itself: `cat | awk '{...; exit}'` could die of SIGPIPE under pipefail.
    pkg=$(awk -v l="$lib" -v v="$ver" '$1==l && $2==v {print $3; exit}' /var/lib/dpkg/info/*:"$want_arch".shlibs 2>/dev/null || true)
    if [ -z "$pkg" ]; then
      fail "$elf needs $so, which no installed $want_arch package provides"
    elif [[ ", $depends," != *", $pkg "* && ", $depends," != *", $pkg,"* ]]; then
      fail "$elf needs $so ($pkg) but Depends lacks $pkg"
    fi
  done
done
echo "$(basename "$deb"): $(wc -l <<<"$contents") paths; slimcached $(stat -c %s "$root/usr/sbin/slimcached") bytes stripped"

# ---------------------------------------------------------------- install into a scratch root
if command -v systemd-analyze >/dev/null && command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
  mkdir -p "$root/etc" "$root/var/lib" "$root/run"
  out=$(systemd-sysusers --root="$root" 2>&1) || fail "systemd-sysusers --root failed: $out"
  grep -q '^slimcache:' "$root/etc/passwd" 2>/dev/null || fail "sysusers did not create the user slimcache"
  out=$(systemd-tmpfiles --root="$root" --create "$root/usr/lib/tmpfiles.d/slimcache.conf" 2>&1) ||
    fail "systemd-tmpfiles --root --create failed: $out"
  [ -d "$root/var/lib/slimcache/experts" ] || fail "tmpfiles did not create /var/lib/slimcache/experts"
  # The extracted unit with its root-relative ExecStart pointed into the scratch root
  # (verify wants the binary to exist; `verify --root` would also need systemd's own units).
  mkdir -p "$tmp/unit"
  sed "s|^ExecStart=/usr/sbin/slimcached|ExecStart=$root/usr/sbin/slimcached|" \
      "$root/usr/lib/systemd/system/slimcached.service" >"$tmp/unit/slimcached.service"
  grep -q "^ExecStart=$root/" "$tmp/unit/slimcached.service" || fail "the unit's ExecStart is not /usr/sbin/slimcached"
  out=$(systemd-analyze verify "$tmp/unit/slimcached.service" 2>&1) || true
  if [ -n "$out" ]; then
    fail "systemd-analyze verify printed:"$'\n'"$out"
  else
    echo "systemd-analyze verify (extracted unit and binary): clean"
  fi
else
  echo "systemd tools missing: the scratch-root installation check is skipped"
fi

[ "$failures" -eq 0 ] || { echo "package check: $failures failure(s)" >&2; exit 1; }
echo "package check passed"
