// Network namespaces for tests that need a real network: two namespaces joined by a veth pair, with
// names unique to this process, so parallel runs never collide; namespaces left behind by runs that
// were killed (their creator's pid is gone) are deleted on the next creation. Everything that runs
// inside is tracked and killed on destroy(). Needs root: without it (or when `ip netns add` fails)
// creation throws, so a test that needs this FAILS rather than skips.
//
//   const net = createNetnsPair();            // net.a: sender side, net.b: collector side
//   const child = net.spawn(net.b.ns, 'node', ['dist/scripts/live-decap.js', '--interface', net.b.iface]);
//   net.exec(net.a.ns, 'node', ['dist/scripts/inject-frames.js', '--interface', net.a.iface, ...]);
//   net.destroy();                             // in afterAll; idempotent

import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Prefix of every namespace these helpers create: `${prefix}-${pid}-${random}-{a,b}`. */
export const NETNS_PREFIX = 'tapwatch';

export class NetnsError extends Error {
  readonly code = 'TW_ERR_NETNS';
}

export interface NetnsEnd {
  /** Namespace name. */
  ns: string;
  /** The veth end inside it. */
  iface: string;
  /** IPv4 address on the veth (192.0.2.0/24, RFC 5737 documentation range). */
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

export interface NetnsPair {
  readonly a: NetnsEnd;
  readonly b: NetnsEnd;
  readonly mtu: number;
  /** Runs a command inside a namespace and returns its stdout; throws with its stderr on failure. */
  exec(ns: string, cmd: string, args: readonly string[], opts?: { timeoutMs?: number; input?: string }): string;
  /** Starts a command inside a namespace (`ip netns exec`, which execs it: the child's pid is the command's). */
  spawn(ns: string, cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Kills what spawn() started and anything else running inside, then deletes both namespaces (their veths go with them). */
  destroy(): void;
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
  requireNetnsPrivilege();
  const prefix = opts.prefix ?? NETNS_PREFIX;
  if (!/^[A-Za-z0-9_.]{1,32}$/.test(prefix)) throw new NetnsError(`bad namespace prefix '${prefix}'`);
  const mtu = opts.mtu ?? 9500;
  cleanStaleNetns(prefix);

  const id = randomBytes(4).toString('hex');
  const base = `${prefix}-${process.pid}-${id}`;
  const nsA = `${base}-a`;
  const nsB = `${base}-b`;
  // Interface names: at most 15 bytes; unique too, though each lives in its own namespace.
  const ifA = `tw${id}a`;
  const ifB = `tw${id}b`;
  const addrA = opts.addrA ?? '192.0.2.1';
  const addrB = opts.addrB ?? '192.0.2.2';
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
  let a: NetnsEnd;
  let b: NetnsEnd;

  try {
    for (const ns of [nsA, nsB]) {
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
    }
    run('ip', ['link', 'add', ifA, 'netns', nsA, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB, 'mtu', String(mtu)]);
    for (const [ns, iface, addr] of [[nsA, ifA, addrA], [nsB, ifB, addrB]]) {
      run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', iface]);
      run('ip', ['-n', ns, 'link', 'set', 'dev', iface, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    a = { ns: nsA, iface: ifA, addr: addrA, prefixLen: 24, mac: macOf(nsA, ifA) };
    b = { ns: nsB, iface: ifB, addr: addrB, prefixLen: 24, mac: macOf(nsB, ifB) };
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    a,
    b,
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
