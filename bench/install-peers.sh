#!/usr/bin/env bash
# Installs the peers `npm run bench` compares against, on Debian 12 (bookworm), as root: tcpdump and GNU time (for
# peak RSS) from main, Suricata from bookworm-backports (it is not in bookworm main). Does nothing for a tool already
# installed. A peer that cannot be installed is written, with why, to the status file that bench/run.ts reads
# (bench/peer-status.ts), and the script goes on with the others; it exits 1 if any could not be installed.
#
#   bash bench/install-peers.sh            install what is missing
#   bash bench/install-peers.sh --detect   only print what it found about apt's sources (codename, backports, mirror)
#
# Paths, overridable for tests (test/install-peers.test.ts runs --detect and the failure paths against a
# temporary root; nothing is installed there):
#   APT_SOURCES_LIST  /etc/apt/sources.list       one-line format; absent on a fresh bookworm (deb822 only)
#   APT_SOURCES_DIR   /etc/apt/sources.list.d     *.list (one-line) and *.sources (deb822)
#   OS_RELEASE        /etc/os-release
#   GNU_TIME          /usr/bin/time
#   PEERS_STATUS      .cache/bench-peers.tsv under the repository: one "peer<TAB>why" line per peer not installed
set -euo pipefail

APT_SOURCES_LIST=${APT_SOURCES_LIST:-/etc/apt/sources.list}
APT_SOURCES_DIR=${APT_SOURCES_DIR:-/etc/apt/sources.list.d}
OS_RELEASE=${OS_RELEASE:-/etc/os-release}
GNU_TIME=${GNU_TIME:-/usr/bin/time}
PEERS_STATUS=${PEERS_STATUS:-$(cd "$(dirname "$0")/.." && pwd)/.cache/bench-peers.tsv}

# apt's sources, whatever their format, as one text. Only files that exist: under `set -o pipefail` a cat of a missing
# /etc/apt/sources.list (a fresh bookworm has none) failed the pipeline, and `set -e` then killed the script. nullglob:
# an unmatched *.list is no file rather than a literal name.
sources_text() {
  local files=() f
  shopt -s nullglob
  for f in "$APT_SOURCES_LIST" "$APT_SOURCES_DIR"/*.list "$APT_SOURCES_DIR"/*.sources; do
    if [ -f "$f" ]; then files+=("$f"); fi
  done
  shopt -u nullglob
  # No file at all: no text (cat with no arguments would wait on stdin).
  if [ "${#files[@]}" -gt 0 ]; then cat "${files[@]}"; fi
}

codename() {
  [ -f "$OS_RELEASE" ] || return 0
  (. "$OS_RELEASE" && echo "${VERSION_CODENAME:-}")
}

# The active lines (comments and blank lines dropped), in one-line or deb822 form alike.
active_sources() { sources_text | grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' || true; }

# Matched on the text, not in a pipe: grep -q stops at the first match, and under pipefail the writer's SIGPIPE
# would turn a match into a failure.
has_backports() {
  local text
  text=$(active_sources)
  grep -qw -- "$1-backports" <<<"$text"
}

# The Debian mirror this machine already uses for main: a deb line's URL or a deb822 URIs field, security excluded.
mirror() {
  local text
  text=$(active_sources)
  grep -v security <<<"$text" | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true
}

if [ "${1:-}" = --detect ]; then
  cn=$(codename)
  echo "codename=${cn:-unknown}"
  if [ -n "$cn" ] && has_backports "$cn"; then echo "backports=yes"; else echo "backports=no"; fi
  echo "mirror=$(mirror)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
mkdir -p "$(dirname "$PEERS_STATUS")"
: > "$PEERS_STATUS"
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Records that a peer could not be installed and why, for the bench's table, and says so now.
not_installed() {
  printf '%s\t%s\n' "$1" "$2" >> "$PEERS_STATUS"
  echo "install-peers: $1 not installed: $2" >&2
  failed=1
}

# apt-get's own last error line (E: ...), or its last line: what a person needs to see of why it failed.
apt_error() { grep -E '^(E|Err):' "$log" | tail -1 || true; }
why_apt() { local e; e=$(apt_error); echo "${e:-$(tail -1 "$log")}"; }

# Why nothing can be installed here at all, or nothing.
cannot_install() {
  if ! command -v apt-get >/dev/null; then echo "no apt-get: not a Debian system"; return; fi
  if [ "$(id -u)" != 0 ]; then echo "apt-get needs root (running as uid $(id -u))"; return; fi
}

updated=0
update() {
  if [ "$updated" = 1 ]; then return 0; fi
  if apt-get update >"$log" 2>&1; then updated=1; return 0; fi
  return 1
}

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
[ -x "$GNU_TIME" ] || need+=(time)
command -v suricata >/dev/null || need+=(suricata)
[ "${#need[@]}" -gt 0 ] || exit 0

blocked=$(cannot_install)
if [ -n "$blocked" ]; then
  for p in "${need[@]}"; do not_installed "$p" "$blocked"; done
  exit 1
fi

main_pkgs=()
for p in "${need[@]}"; do if [ "$p" != suricata ]; then main_pkgs+=("$p"); fi; done
if [ "${#main_pkgs[@]}" -gt 0 ]; then
  if ! update; then
    for p in "${main_pkgs[@]}"; do not_installed "$p" "apt-get update failed: $(why_apt)"; done
  elif ! apt-get install -y "${main_pkgs[@]}" >"$log" 2>&1; then
    for p in "${main_pkgs[@]}"; do not_installed "$p" "apt-get install $p failed: $(why_apt)"; done
  fi
fi

if [[ " ${need[*]} " == *" suricata "* ]]; then
  cn=$(codename)
  if [ -z "$cn" ]; then
    not_installed suricata "no VERSION_CODENAME in $OS_RELEASE, so no backports suite to take it from"
  else
    if ! has_backports "$cn"; then
      m=$(mirror)
      # deb822, as bookworm's own sources are; with the key bookworm's main suite is signed with.
      printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "${m:-http://deb.debian.org/debian}" "$cn" > "$APT_SOURCES_DIR/backports.sources"
      updated=0
    fi
    if ! update; then
      not_installed suricata "apt-get update failed: $(why_apt)"
    elif ! apt-get install -y -t "${cn}-backports" suricata >"$log" 2>&1; then
      not_installed suricata "apt-get install -t ${cn}-backports suricata failed: $(why_apt)"
    else
      # The package enables a capture daemon; on a 2-core machine it would compete with the bench.
      if command -v systemctl >/dev/null; then systemctl disable --now suricata.service 2>/dev/null || true; fi
    fi
  fi
fi

exit "$failed"
