#!/usr/bin/env bash
# The bash completion offers slimctl's real subcommands and options.
#   check_completion.sh COMPLETION_SCRIPT SLIMCTL_BINARY
set -euo pipefail
source "$1"
PATH="$(dirname "$2"):$PATH"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _slimctl; echo "${COMPREPLY[*]}"; }
fail() { echo "completion check failed: $*" >&2; exit 1; }
[[ " $(complete_words slimctl '') " == *" solve "* ]] || fail "top level lacks solve"
[[ " $(complete_words slimctl sta) " == *" status "* ]] || fail "'sta' does not complete to status"
[[ " $(complete_words slimctl config '') " == *" check "* ]] || fail "config lacks check"
[[ " $(complete_words slimctl status --) " == *" --json "* ]] || fail "status lacks --json"
echo "completion check passed"
