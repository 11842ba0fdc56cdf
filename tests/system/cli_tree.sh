#!/usr/bin/env bash
# Prints a CLI11 program's command tree from its own --help, one line per command and per
# option:   "cmd|PATH"   and   "opt|PATH|OPTION"   (PATH "" = the top level).
# Used by check_completion.sh and check_man_pages.sh so both follow the real binary.
#   cli_tree.sh build/dev/agent/slimctl
set -euo pipefail
bin=${1:?usage: cli_tree.sh PROGRAM}

walk() {
  local help
  help=$("$bin" "$@" --help) || { echo "cli_tree: '$bin $* --help' failed" >&2; exit 1; }
  printf 'cmd|%s\n' "$*"
  # Option names: lines of the Options: section that start with a dash.
  awk '/^Options:/{s=1;next} /^[A-Z][A-Za-z]*:/{s=0} s && /^  -/' <<<"$help" |
    grep -oE '^ +-[^ ]+' | tr ',' '\n' | tr -d ' ' | grep -E '^--?[a-zA-Z]' |
    while read -r o; do printf 'opt|%s|%s\n' "$*" "$o"; done
  local sub
  for sub in $(awk '/^Subcommands:/{s=1;next} /^[A-Z][A-Za-z]*:/{s=0} s && NF {print $1}' <<<"$help"); do
    walk "$@" "$sub"
  done
}
walk
