#!/usr/bin/env bash
# Installs the peers `npm run bench` compares against, on Debian 12 (bookworm), as root:
# tcpdump and GNU time (for peak RSS) from main, Suricata from bookworm-backports (it is not in
# bookworm main). Does nothing for a tool already installed.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
updated=0
update() { if [ "$updated" = 0 ]; then apt-get update; updated=1; fi; }

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  update
  apt-get install -y "${need[@]}"
fi

if ! command -v suricata >/dev/null; then
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  sources=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  if ! cat "${sources[@]}" 2>/dev/null | grep -v '^#' | grep -q "${codename}-backports"; then
    # Use the Debian mirror this machine already uses for main.
    mirror=$(cat "${sources[@]}" 2>/dev/null | grep -v -e '^#' -e security | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ')
    echo "deb ${mirror:-http://deb.debian.org/debian} ${codename}-backports main" > /etc/apt/sources.list.d/backports.list
    updated=0
  fi
  update
  apt-get install -y -t "${codename}-backports" suricata
  # The package enables a capture daemon; on a 2-core machine it would compete with the bench.
  if command -v systemctl >/dev/null; then systemctl disable --now suricata.service 2>/dev/null || true; fi
fi
