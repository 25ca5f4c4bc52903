// bench/install-peers.sh on the apt layouts it meets, against a temporary root (its paths are overridable), with
// nothing installed: apt-get, id and the peers' commands are stubs on a PATH of the test's own. A fresh Debian 12 has
// no /etc/apt/sources.list, only deb822 sources in sources.list.d/debian.sources; the script used to cat the missing
// file under `set -euo pipefail` and die there. And when a peer cannot be installed, the bench says which and why.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { missingPeerReason, readPeerStatus } from '../bench/peer-status.js';
import { root } from './helpers/es-fixtures.js';

const SCRIPT = join(root, 'bench', 'install-peers.sh');
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwatch-peers-'));
  mkdirSync(join(dir, 'sources.list.d'));
  writeFileSync(join(dir, 'os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** bookworm's own deb822 file, on a mirror of its own so that finding it is not finding the default. */
const DEB822 = (suites = 'bookworm bookworm-updates') =>
  `Types: deb\nURIs: http://ftp.jp.debian.org/debian\nSuites: ${suites}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n` +
  'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n';

const paths = () => ({ APT_SOURCES_LIST: join(dir, 'sources.list'), APT_SOURCES_DIR: join(dir, 'sources.list.d'), OS_RELEASE: join(dir, 'os-release'), PEERS_STATUS: join(dir, 'peers.tsv') });

/** --detect, with something on stdin that a script reading stdin (cat with no file) would take for a source. */
function detect(): { status: number | null; out: Record<string, string>; stderr: string } {
  const res = spawnSync('bash', [SCRIPT, '--detect'], { env: { ...process.env, ...paths() }, input: 'deb http://stdin.invalid/debian bookworm-backports main\n', encoding: 'utf8', timeout: 20_000 });
  return { status: res.status, out: Object.fromEntries(res.stdout.trim().split('\n').map((l) => l.split('=') as [string, string])), stderr: res.stderr };
}

describe('install-peers.sh --detect: what apt`s sources say, read without installing anything', () => {
  it('reads a deb822-only bookworm (no sources.list): codename, no backports yet, the mirror of its URIs', () => {
    writeFileSync(join(dir, 'sources.list.d', 'debian.sources'), DEB822());
    expect(detect()).toEqual({ status: 0, out: { codename: 'bookworm', backports: 'no', mirror: 'http://ftp.jp.debian.org/debian' }, stderr: '' });
  });

  it('sees backports in a deb822 Suites field', () => {
    writeFileSync(join(dir, 'sources.list.d', 'debian.sources'), DEB822('bookworm bookworm-updates bookworm-backports'));
    expect(detect().out.backports).toBe('yes');
  });

  it('reads the one-line format too, and a commented-out backports line is no backports', () => {
    writeFileSync(join(dir, 'sources.list'), 'deb http://ftp.de.debian.org/debian bookworm main\ndeb http://security.debian.org/debian-security bookworm-security main\n# deb http://ftp.de.debian.org/debian bookworm-backports main\n');
    expect(detect().out).toEqual({ codename: 'bookworm', backports: 'no', mirror: 'http://ftp.de.debian.org/debian' });
    writeFileSync(join(dir, 'sources.list.d', 'backports.list'), 'deb http://ftp.de.debian.org/debian bookworm-backports main\n');
    expect(detect().out.backports).toBe('yes');
  });

  it('with no sources at all, says so instead of failing or reading stdin', () => {
    expect(detect()).toEqual({ status: 0, out: { codename: 'bookworm', backports: 'no', mirror: '' }, stderr: '' });
  });
});

describe('install-peers.sh when a peer cannot be installed: it says which and why, and the bench reports it', () => {
  /** A PATH holding only the tools the script uses: the real text tools, and stubs for apt-get, id and the peers. */
  function stubPath(stubs: Record<string, string>): string {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const tool of ['cat', 'grep', 'head', 'tail', 'tr', 'dirname', 'mkdir', 'mktemp', 'rm']) {
      const real = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(real, join(bin, tool));
    }
    for (const [name, body] of Object.entries(stubs)) writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return bin;
  }

  const install = (bin: string, extra: Record<string, string> = {}) =>
    spawnSync('/bin/bash', [SCRIPT], { env: { PATH: bin, ...paths(), ...extra }, encoding: 'utf8', timeout: 20_000 });

  it('suricata missing from backports on a deb822-only bookworm: backports added in deb822, the apt error recorded', () => {
    writeFileSync(join(dir, 'sources.list.d', 'debian.sources'), DEB822());
    writeFileSync(join(dir, 'time'), '', { mode: 0o755 });
    // apt-get as on a machine whose backports lack the package: update works, the install fails as apt says.
    const bin = stubPath({
      id: 'echo 0',
      tcpdump: 'exit 0',
      'apt-get': 'case "$1" in update) echo "Reading package lists..."; exit 0;; *) echo "Reading package lists..."; echo "E: Unable to locate package suricata" >&2; exit 100;; esac',
    });
    const res = install(bin, { GNU_TIME: join(dir, 'time') });
    expect(res.status, res.stderr).toBe(1);
    const why = 'apt-get install -t bookworm-backports suricata failed: E: Unable to locate package suricata';
    expect(res.stderr).toContain(`install-peers: suricata not installed: ${why}`);
    expect(readFileSync(join(dir, 'peers.tsv'), 'utf8')).toBe(`suricata\t${why}\n`);
    expect(readFileSync(join(dir, 'sources.list.d', 'backports.sources'), 'utf8')).toBe(
      'Types: deb\nURIs: http://ftp.jp.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    );
    // What the bench's table then says for the Suricata row.
    expect(missingPeerReason('suricata', 'n/a: suricata not installed (bash bench/install-peers.sh)', readPeerStatus(join(dir, 'peers.tsv')))).toBe(`n/a: suricata could not be installed: ${why}`);
  });

  it('not root: every missing peer recorded with that reason, and apt never run', () => {
    writeFileSync(join(dir, 'sources.list.d', 'debian.sources'), DEB822());
    const bin = stubPath({ id: 'echo 1000', 'apt-get': `touch '${dir}/apt-ran'; exit 0` });
    const res = install(bin, { GNU_TIME: join(dir, 'no-time') });
    expect(res.status).toBe(1);
    const status = readPeerStatus(join(dir, 'peers.tsv'));
    expect([...status]).toEqual(['tcpdump', 'time', 'suricata'].map((p) => [p, 'apt-get needs root (running as uid 1000)']));
    expect(existsSync(join(dir, 'apt-ran'))).toBe(false);
    expect(existsSync(join(dir, 'sources.list.d', 'backports.sources'))).toBe(false);
  });

  it('nothing missing: nothing run, nothing recorded, and an earlier failure forgotten', () => {
    writeFileSync(join(dir, 'peers.tsv'), 'suricata\tan old reason\n');
    writeFileSync(join(dir, 'time'), '', { mode: 0o755 });
    const bin = stubPath({ id: 'echo 0', tcpdump: 'exit 0', suricata: 'exit 0', 'apt-get': `touch '${dir}/apt-ran'; exit 0` });
    const res = install(bin, { GNU_TIME: join(dir, 'time') });
    expect(res.status, res.stderr).toBe(0);
    expect(readPeerStatus(join(dir, 'peers.tsv')).size).toBe(0);
    expect(existsSync(join(dir, 'apt-ran'))).toBe(false);
  });
});
