#!/usr/bin/env bash
# The bash completion offers every command and every option of the real slimctl (walked
# from its --help by cli_tree.sh), and completes file names after options taking a path.
#   check_completion.sh COMPLETION_SCRIPT SLIMCTL_BINARY
set -euo pipefail
source "$1"
slimctl=$2
here=$(cd "$(dirname "$0")" && pwd)
PATH="$(cd "$(dirname "$slimctl")" && pwd):$PATH"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _slimctl; echo "${COMPREPLY[*]}"; }
failures=0
fail() { echo "completion check failed: $*" >&2; failures=$((failures + 1)); }

[[ " $(complete_words slimctl sta) " == *" status "* ]] || fail "'sta' does not complete to status"

tree=$(bash "$here/cli_tree.sh" "$slimctl")
commands=0
options=0
declare -A offered=()
while IFS='|' read -r kind path option; do
  read -r -a words <<<"$path"
  if [ "$kind" = cmd ]; then
    commands=$((commands + 1))
    [ ${#words[@]} -gt 0 ] || continue
    # The parent offers this command's last word.
    parent=("${words[@]:0:${#words[@]}-1}")
    pkey="sub:${parent[*]}"
    if [ -z "${offered[$pkey]+x}" ]; then offered[$pkey]=$(complete_words slimctl "${parent[@]}" ''); fi
    got=${offered[$pkey]}
    [[ " $got " == *" ${words[-1]} "* ]] || fail "'slimctl ${parent[*]} <TAB>' lacks ${words[-1]} (got: $got)"
  else
    options=$((options + 1))
    key="top:$path"
    if [ -z "${offered[$key]+x}" ]; then offered[$key]=$(complete_words slimctl "${words[@]}" -); fi
    [[ " ${offered[$key]} " == *" $option "* ]] || fail "'slimctl $path -<TAB>' lacks $option"
  fi
done <<<"$tree"

# File names after options that take a path.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/instance-file.toml"
for words in "solve --instance" "replay --trace" "config check --drop-in" "import --model-dir" "status --socket"; do
  read -r -a w <<<"$words"
  got=$(complete_words slimctl "${w[@]}" "$tmp/instance-")
  [[ "$got" == *"$tmp/instance-file.toml"* ]] || fail "'slimctl $words <TAB>' does not complete file names"
done

[ "$failures" -eq 0 ] || { echo "completion check: $failures failure(s)" >&2; exit 1; }
echo "completion check passed: $commands commands, $options options"
