// What bench/install-peers.sh could not install, and why: it writes one "peer<TAB>why" line per peer to a status
// file, and the bench's report names the peer and the reason instead of a bare "not installed".

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where install-peers.sh writes by default (its PEERS_STATUS). */
export const peerStatusPath = (root: string): string => process.env.PEERS_STATUS ?? join(root, '.cache', 'bench-peers.tsv');

/** Peer (the Debian package name: tcpdump, time, suricata) → why it could not be installed; empty when none failed or the script never ran. */
export function readPeerStatus(path: string): Map<string, string> {
  if (!existsSync(path)) return new Map();
  const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => line.split('\t'));
  return new Map(rows.filter((r) => r.length >= 2).map(([peer, ...why]) => [peer, why.join('\t')]));
}

/** The n/a text for a peer whose tool is missing: why install-peers.sh could not install it, when it said. */
export function missingPeerReason(peer: string, notInstalled: string, status: Map<string, string>): string {
  const why = status.get(peer);
  return why === undefined ? notInstalled : `n/a: ${peer} could not be installed: ${why}`;
}
