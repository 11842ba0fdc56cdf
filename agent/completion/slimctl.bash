# bash completion for slimctl. Completes subcommands and options by reading slimctl's own
# --help, so it always matches the installed version; files are completed for options
# that take a path.
_slimctl() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  }
  case "$prev" in
    --config|--instance|--trace|--out|--stats-from|--socket|--model-dir|--drop-in|-c|--file)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
  esac
  # The subcommand path typed so far (words that are not options).
  local path=() w i
  for ((i = 1; i < cword; i++)); do
    w=${words[i]}
    [[ $w == -* ]] && continue
    path+=("$w")
  done
  local help
  help=$("${words[0]}" "${path[@]}" --help 2>/dev/null) || help=$("${words[0]}" --help 2>/dev/null)
  local subs opts
  subs=$(awk '/^Subcommands:/{s=1;next} /^[A-Z][a-z]*:/{s=0} s && NF {print $1}' <<<"$help")
  opts=$(grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' <<<"$help" | tr -d ' ,' | sort -u)
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
}
complete -F _slimctl slimctl
