#!/usr/bin/env bash
# Checks the systemd units without installing them (docs/OPERATIONS.md, "systemd"):
#   scripts/check-units.sh            exposure scores (systemd-analyze security --offline) and unit syntax
#   scripts/check-units.sh --strace   also runs a short demo under strace as an unprivileged user and lists
#                                     every system call it made that the units' SystemCallFilter refuses
# Run from the checkout after `npm run build`. Exit 0 when every check passes, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed (Debian: apt-get install systemd); nothing checked" >&2
  exit 1
fi

status=0
for unit in systemd/gridlet-agent.service systemd/gridlet-aggregator.service; do
  score=$(systemd-analyze security --offline=true --no-pager "$unit" 2>/dev/null | grep -o 'exposure level for [^:]*: [0-9.]* [A-Z]*' || true)
  echo "$unit: ${score:-no score}"
  [[ -n "$score" ]] || status=1
done

if [[ "${1:-}" != "--strace" ]]; then
  exit "$status"
fi
command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 1; }

# Expands a systemd system-call group (and its nested groups) into call names.
declare -A seen=()
expand() {
  local g m
  for g in "$@"; do
    [[ -n "${seen[$g]:-}" ]] && continue
    seen[$g]=1
    for m in $(systemd-analyze syscall-filter "$g" | sed -n '2,$p' | grep -vE '^\s*#' | sed 's/^ *//'); do
      if [[ $m == @* ]]; then expand "$m"; else echo "$m"; fi
    done
  done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"
seen=(); expand @system-service | sort -u >"$work/allowed"
seen=(); expand @privileged @resources | sort -u >"$work/denied"
# As nobody, like the units' User=gridlet (SQLite, for one, calls fchown only as root). Calls made by
# setpriv before it executes node are left out: only lines after the first execve of node count.
strace -f -qq -o "$work/trace" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$(command -v node)" dist/cli/main.js demo --dir "$work/demo" --aggregators 4 --agents-per 1 \
  --duration 15 --no-kill >"$work/demo.out" 2>&1 || { cat "$work/demo.out"; exit 1; }
awk 'f || /execve\("[^"]*\/node"/ { f = 1; print }' "$work/trace" |
  grep -oE '^[0-9]+ +(<\.\.\. )?[a-z_0-9]+' | awk '{ print $NF }' | sort -u >"$work/used"
outside=$(comm -23 "$work/used" "$work/allowed" | tr '\n' ' ')
refused=$(comm -12 "$work/used" "$work/denied" | tr '\n' ' ')
echo "system calls made: $(wc -l <"$work/used")"
echo "outside @system-service (answered EPERM under the units): ${outside:-none}"
echo "in ~@privileged @resources (answered EPERM under the units): ${refused:-none}"
# pkey_alloc is V8 probing for memory protection keys; it works without them.
for call in $outside $refused; do
  [[ "$call" == pkey_alloc ]] || status=1
done
exit "$status"
