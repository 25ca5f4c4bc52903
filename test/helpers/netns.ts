// Network namespaces for tests that need a real network: two namespaces joined by a veth pair
// (createNetnsPair), or any namespaces and veth links between them (createNetnsTopology), with
// names unique to this process, so parallel runs never collide; namespaces left behind by runs that
// were killed (their creator's pid is gone) are deleted on the next creation. Everything that runs
// inside is tracked and killed on destroy(). Needs root: without it (or when `ip netns add` fails)
// creation throws, so a test that needs this FAILS rather than skips.
//
//   const net = createNetnsPair();            // net.a: sender side, net.b: collector side
//   const child = net.spawn(net.b.ns, 'node', ['dist/test/harness/live-decap.js', '--interface', net.b.iface]);
//   net.exec(net.a.ns, 'node', ['dist/test/harness/inject-frames.js', '--interface', net.a.iface, ...]);
//   net.destroy();                             // in afterAll; idempotent
//
// UDP tools run as node scripts inside namespaces (no ping or netcat needed): startUdpEcho,
// udpProbe (who answers), udpThroughput (what arrives of a steady blast).

import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ErrorCode } from '../../contracts/errors.js';

/** Prefix of every namespace these helpers create: `${prefix}-${pid}-${random}-${name}` (name a, b for a pair). */
export const NETNS_PREFIX = 'tapwatch';

export class NetnsError extends Error {
  readonly code: ErrorCode = 'TWT0001';
}

export interface NetnsEnd {
  /** Namespace name. */
  ns: string;
  /** The veth end inside it. */
  iface: string;
  /** IPv4 address on the veth (a pair's: in 192.0.2.0/24, RFC 5737 documentation range). */
  addr: string;
  prefixLen: number;
  /** The veth end's MAC address. */
  mac: string;
}

export interface NetnsPairOptions {
  /** Namespace name prefix (default NETNS_PREFIX); stale ones with the same prefix are removed. */
  prefix?: string;
  /** veth MTU (default 9500: every fixture frame, 9100 bytes at most, fits even wrapped in GRE). */
  mtu?: number;
  /** Keep IPv6 on (default off: no router solicitations, DAD or MLD appearing in captures). */
  ipv6?: boolean;
  /** Addresses of the two ends (default 192.0.2.1 and 192.0.2.2, /24). */
  addrA?: string;
  addrB?: string;
}

/** Runs commands inside namespaces and removes everything on destroy(). */
export interface NetnsRunner {
  /** Runs a command inside a namespace and returns its stdout; throws with its stderr on failure. */
  exec(ns: string, cmd: string, args: readonly string[], opts?: { timeoutMs?: number; input?: string }): string;
  /** Starts a command inside a namespace (`ip netns exec`, which execs it: the child's pid is the command's). */
  spawn(ns: string, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Kills what spawn() started and anything else running inside, then deletes the namespaces (their veths go with them). */
  destroy(): void;
}

export interface NetnsPair extends NetnsRunner {
  readonly a: NetnsEnd;
  readonly b: NetnsEnd;
  readonly mtu: number;
}

export interface NetnsLink {
  /** Short names (from NetnsTopologyOptions.namespaces) of the namespaces at the two ends. */
  a: string;
  b: string;
  /** Address/prefix length of each end, e.g. '10.128.0.1/24'. */
  addrA: string;
  addrB: string;
}

export interface NetnsTopologyOptions extends Pick<NetnsPairOptions, 'prefix' | 'mtu' | 'ipv6'> {
  /** Short names ([a-z0-9], e.g. 'dev', 'gw'). */
  namespaces: readonly string[];
  links: readonly NetnsLink[];
}

export interface NetnsTopology extends NetnsRunner {
  /** Full namespace name by short name. */
  readonly ns: Readonly<Record<string, string>>;
  /** The ends of each link, in the order of NetnsTopologyOptions.links. */
  readonly links: ReadonlyArray<{ readonly a: NetnsEnd; readonly b: NetnsEnd }>;
  readonly mtu: number;
}

function run(cmd: string, args: readonly string[], timeoutMs = 10_000, input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (err.code === 'ENOENT') throw new NetnsError(`${cmd} not found: network-namespace tests need iproute2 (apt-get install iproute2)`);
    const why = (err.stderr ?? '').trim() || err.message;
    throw new NetnsError(`\`${cmd} ${args.join(' ')}\` failed (exit ${err.status ?? 'signal'}): ${why}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A killed run's process may linger a moment as a zombie: dead all the same.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Names of all network namespaces (`ip netns list`). */
export function listNetns(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n !== undefined && n !== '');
}

/** Kills (SIGKILL) every process inside a namespace (`ip netns pids`), then deletes it. */
export function deleteNetns(ns: string): void {
  let pids: number[] = [];
  try {
    pids = run('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // gone already, or no processes
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  run('ip', ['netns', 'delete', ns]);
}

/** Deletes namespaces `${prefix}-${pid}-...` whose creating process no longer exists, with whatever runs in them; returns their names. */
export function cleanStaleNetns(prefix = NETNS_PREFIX): string[] {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-[0-9a-f]+-`);
  const removed: string[] = [];
  for (const name of listNetns()) {
    const m = re.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      deleteNetns(name);
      removed.push(name);
    } catch {
      // another run cleaned it up first
    }
  }
  return removed;
}

/** Throws unless this process can create namespaces: the message says what is missing. */
export function requireNetnsPrivilege(): void {
  const uid = process.geteuid?.() ?? -1;
  if (uid !== 0) {
    throw new NetnsError(
      `network-namespace tests need root (ip netns, veth, packet sockets); running as uid ${uid}. ` +
        'CI runs them as root; locally: sudo npx vitest run test/live-capture.test.ts',
    );
  }
}

function macOf(ns: string, iface: string): string {
  const info = JSON.parse(run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', iface])) as Array<{ address?: string }>;
  const mac = info[0]?.address;
  if (!mac) throw new NetnsError(`no MAC address on ${iface} in ${ns}`);
  return mac;
}

export function createNetnsPair(opts: NetnsPairOptions = {}): NetnsPair {
  const t = createNetnsTopology({
    ...opts,
    namespaces: ['a', 'b'],
    links: [{ a: 'a', b: 'b', addrA: `${opts.addrA ?? '192.0.2.1'}/24`, addrB: `${opts.addrB ?? '192.0.2.2'}/24` }],
  });
  const [{ a, b }] = t.links;
  return { a, b, mtu: t.mtu, exec: t.exec, spawn: t.spawn, destroy: t.destroy };
}

/**
 * Namespaces `${prefix}-${pid}-${random}-${name}` for each of `namespaces`, joined by the veth pairs
 * of `links` (interface names `tw${random}${link}{a,b}`), each end up with its address, lo up.
 * Routes, forwarding and extra addresses are the caller's, through exec().
 */
export function createNetnsTopology(opts: NetnsTopologyOptions): NetnsTopology {
  requireNetnsPrivilege();
  const prefix = opts.prefix ?? NETNS_PREFIX;
  if (!/^[A-Za-z0-9_.]{1,32}$/.test(prefix)) throw new NetnsError(`bad namespace prefix '${prefix}'`);
  if (opts.links.length > 10) throw new NetnsError('at most 10 links (interface names have 15 bytes)');
  const mtu = opts.mtu ?? 9500;
  cleanStaleNetns(prefix);

  const id = randomBytes(4).toString('hex');
  const base = `${prefix}-${process.pid}-${id}`;
  const names: Record<string, string> = {};
  for (const n of opts.namespaces) {
    if (!/^[a-z0-9]{1,16}$/.test(n) || n in names) throw new NetnsError(`bad or repeated namespace name '${n}'`);
    names[n] = `${base}-${n}`;
  }
  const created: string[] = [];
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', destroy);
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    children.clear();
    for (const ns of created) {
      try {
        deleteNetns(ns); // also whatever was started inside by other means than spawn()
      } catch {
        // already gone; a stale leftover would be removed by the next run
      }
    }
  };
  // If the test process exits without afterAll (crash, process.exit), still try to clean up.
  process.on('exit', destroy);
  const links: Array<{ a: NetnsEnd; b: NetnsEnd }> = [];

  try {
    for (const ns of Object.values(names)) {
      try {
        run('ip', ['netns', 'add', ns]);
      } catch (e) {
        throw new NetnsError(`\`ip netns add ${ns}\` failed, so network-namespace tests cannot run: ${(e as Error).message}`);
      }
      created.push(ns);
      if (!opts.ipv6) {
        // Before the veth arrives, so it inherits 'default'. Absent when the kernel has no IPv6: fine.
        run('ip', ['netns', 'exec', ns, 'sh', '-c',
          'for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 /proc/sys/net/ipv6/conf/all/disable_ipv6; do [ -e $f ] && echo 1 > $f; done; true']);
      }
      run('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    opts.links.forEach((l, i) => {
      const nsA = names[l.a];
      const nsB = names[l.b];
      if (!nsA || !nsB) throw new NetnsError(`link ${i} joins an unknown namespace (${l.a}, ${l.b})`);
      // Interface names: at most 15 bytes; unique too, though each lives in its own namespace.
      const ifA = `tw${id}${i}a`;
      const ifB = `tw${id}${i}b`;
      run('ip', ['link', 'add', ifA, 'netns', nsA, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB, 'mtu', String(mtu)]);
      const end = (ns: string, iface: string, cidr: string): NetnsEnd => {
        const [addr, len] = cidr.split('/');
        run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', iface]);
        run('ip', ['-n', ns, 'link', 'set', 'dev', iface, 'up']);
        return { ns, iface, addr, prefixLen: Number(len), mac: macOf(ns, iface) };
      };
      links.push({ a: end(nsA, ifA, l.addrA), b: end(nsB, ifB, l.addrB) });
    });
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    ns: names,
    links,
    mtu,
    exec(ns, cmd, args, o = {}) {
      return run('ip', ['netns', 'exec', ns, cmd, ...args], o.timeoutMs ?? 30_000, o.input);
    },
    spawn(ns, cmd, args, o = {}) {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...o });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    destroy,
  };
}

// ---- child processes ----------------------------------------------------------------------------

/** Collects a child's stdout and stderr as text. */
export function collectOutput(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { stdout: () => out, stderr: () => err };
}

/** Resolves when `text()` matches `re` (polled); rejects if the child exits first or after `timeoutMs`. */
export function waitForOutput(child: ChildProcess, text: () => string, re: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const t = setInterval(() => {
      if (re.test(text())) {
        clearInterval(t);
        resolve();
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(t);
        reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before printing ${re}: ${text()}`));
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(t);
        reject(new Error(`no ${re} within ${timeoutMs} ms: ${text()}`));
      }
    }, 10);
  });
}

/**
 * Resolves with the exit code once the child has exited and its output streams are closed (so all of
 * its output has been read); kills it (SIGKILL) and rejects after `timeoutMs`.
 */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  const ended = (s: NodeJS.ReadableStream | null): boolean => s === null || (s as unknown as { readableEnded: boolean; destroyed: boolean }).readableEnded || (s as unknown as { destroyed: boolean }).destroyed;
  if ((child.exitCode !== null || child.signalCode !== null) && ended(child.stdout) && ended(child.stderr)) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms: killed`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

// ---- UDP tools ----------------------------------------------------------------------------------

// One node script for every tool (CommonJS, as `node -e` runs it): argv is mode, then the mode's arguments.
const UDP_AGENT = `
const dgram = require('node:dgram');
const [mode, ...a] = process.argv.slice(1);
const sock = (addr) => dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
if (mode === 'echo') {
  const [bind, port, name] = a;
  const s = sock(bind);
  s.on('message', (_m, r) => s.send(name, r.port, r.address));
  s.bind(+port, bind, () => console.log('ready'));
} else if (mode === 'probe') {
  const [from, to, port, count] = a;
  const s = sock(from);
  const seen = {};
  s.on('message', (m) => { seen[m.toString()] = (seen[m.toString()] || 0) + 1; });
  // Done when every probe got its answer; an answer that never comes is waited for 2 s after the last send.
  let answers = 0;
  let done = false;
  let t;
  const finish = () => { if (done) return; done = true; clearInterval(t); console.log(JSON.stringify(seen)); s.close(); };
  s.on('message', () => { if (++answers >= +count) finish(); });
  s.bind(0, from, () => {
    let sent = 0;
    t = setInterval(() => {
      s.send('probe', +port, to);
      if (++sent < +count) return;
      clearInterval(t);
      setTimeout(finish, 2000);
    }, 20);
  });
} else if (mode === 'sink') {
  const [bind, port, ms] = a;
  const s = sock(bind);
  let bytes = 0;
  s.on('message', (m) => { bytes += m.length; });
  s.bind(+port, bind, () => {
    console.log('ready');
    setTimeout(() => { console.log(JSON.stringify({ bytes })); s.close(); }, +ms);
  });
} else if (mode === 'blast') {
  const [from, to, port, ms, bytesPerSecond] = a;
  const s = sock(from);
  const payload = Buffer.alloc(1000);
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((+bytesPerSecond * tickMs) / 1000 / payload.length));
  s.bind(0, from, () => {
    const end = Date.now() + +ms;
    const t = setInterval(() => {
      if (Date.now() >= end) { clearInterval(t); s.close(); return; }
      for (let i = 0; i < perTick; i++) s.send(payload, +port, to);
    }, tickMs);
  });
} else {
  throw new Error('unknown mode ' + mode);
}
`;

/** Starts a UDP server in `ns` on bind:port that answers every datagram with `name`; resolves once it listens. */
export async function startUdpEcho(net: NetnsRunner, ns: string, o: { bind: string; port: number; name: string }): Promise<ChildProcess> {
  const child = net.spawn(ns, process.execPath, ['-e', UDP_AGENT, 'echo', o.bind, String(o.port), o.name]);
  const out = collectOutput(child);
  await waitForOutput(child, () => out.stdout() + out.stderr(), /ready/, 10_000);
  return child;
}

/**
 * Sends `count` datagrams (20 ms apart) from source address `from` to to:port and returns the
 * answers counted by the name of the echo server that sent them, as soon as `count` answers came ({} when
 * none came back within 2 s of the last send).
 */
export function udpProbe(net: NetnsRunner, ns: string, o: { from: string; to: string; port: number; count: number }): Record<string, number> {
  return JSON.parse(net.exec(ns, process.execPath, ['-e', UDP_AGENT, 'probe', o.from, o.to, String(o.port), String(o.count)])) as Record<string, number>;
}

/**
 * Offers `offered` bytes/s of UDP payload (1000-byte datagrams) from `from` in fromNs to to:port in
 * toNs for `ms`, and returns the payload bytes/s that arrived there.
 */
export async function udpThroughput(
  net: NetnsRunner,
  o: { fromNs: string; from: string; toNs: string; to: string; port: number; ms: number; offered: number },
): Promise<number> {
  // The sink listens a little longer than the blast lasts, so late datagrams (the blast's own start-up) count.
  const sink = net.spawn(o.toNs, process.execPath, ['-e', UDP_AGENT, 'sink', o.to, String(o.port), String(o.ms + 700)]);
  const out = collectOutput(sink);
  await waitForOutput(sink, () => out.stdout() + out.stderr(), /ready/, 10_000);
  net.exec(o.fromNs, process.execPath, ['-e', UDP_AGENT, 'blast', o.from, o.to, String(o.port), String(o.ms), String(o.offered)]);
  await waitForExit(sink, o.ms + 10_000);
  const { bytes } = JSON.parse(out.stdout().trim().split('\n').at(-1) ?? '') as { bytes: number };
  return bytes / (o.ms / 1000);
}
