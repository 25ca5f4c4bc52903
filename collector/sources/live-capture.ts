// Live capture from a network interface through libpcap, via the optional native npm package `cap`
// (0.2.1, mscdex/cap). Every packet is copied by cap into ONE Buffer; we fill ONE reused Frame that
// points into it and hand it to the FrameConsumer synchronously, so the consumer sees exactly what a
// pcap replay gives it (buf, off = 0, capLen, wireLen, wall-clock timestamp, LINKTYPE_*).
//
// What cap 0.2.1 really offers (read from its src/binding.cc), and what follows from it here:
// - `open(device, filter, bufSize, buffer)` returns the link type as a string: 'ETHERNET' (DLT_EN10MB),
//   'NULL', 'RAW' (DLT_RAW), 'LINKTYPE_LINUX_SLL', 'IEEE802_11_RADIO', or 'Unknown linktype N' (N = DLT).
//   It always sets promiscuous mode, a kernel snaplen of 65535, a 1 s read timeout, and immediate mode
//   (pcap_set_immediate_mode, looked up with dlopen("libpcap.so"), which libpcap-dev provides), so
//   frames are delivered as they arrive, not in ~1 s batches.
// - Each packet is an `emit('packet', nbytes, truncated)` call. `nbytes` is the captured length cut to
//   the buffer's size; `truncated` says it was cut. Neither the wire length nor a timestamp is passed,
//   so wireLen = capLen and the time is read from the wall clock when the frame reaches JavaScript.
// - There is no pcap_stats: kernel drops cannot be read (stats.kernelDrops stays null).
// - cap keeps only a raw pointer to the buffer: if the Buffer is garbage collected while capturing,
//   libpcap writes into freed memory (seen here as "malloc(): unsorted double linked list corrupted").
//   The handle below keeps it referenced for as long as it lives.
// - A failed open() leaves a half-open handle: calling open()/close() on it again, or letting it be
//   garbage collected, crashes the process (uv_poll_stop on an uninitialised handle; seen as SIGSEGV or
//   a libuv assertion). Failed handles are therefore pinned for the life of the process (a small leak
//   on a path that is fatal to the caller anyway).
// - cap's emit is the EventEmitter's, captured by the native constructor; a subclass that defines its
//   own `emit` gets every packet without the EventEmitter's dispatch.
// - `send(buffer, n)` is pcap_sendpacket on the open handle: the frame goes out as-is. Linux refuses a
//   frame longer than MTU + 14 ("send: Message too long") or shorter than 14 bytes ("Invalid argument").

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Frame } from '../../gre-decap/readers/frame.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_NULL, LINKTYPE_RAW, VXLAN_PORT, GENEVE_PORT,
} from '../../gre-decap/layers.js';
import type { FrameConsumer } from './frame-consumer.js';

export type LiveCaptureErrorCode =
  | 'TWC0002'
  | 'TWC0003'
  | 'TWC0004'
  | 'TWC0005'
  | 'TWC0006';

export class LiveCaptureError extends Error {
  constructor(readonly code: LiveCaptureErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LiveCaptureError';
  }
}

export interface LiveCaptureOptions {
  /** Interface name, e.g. 'eth1' (the mirror port), or 'any' (Linux cooked frames, LINKTYPE 113). */
  iface: string;
  /**
   * BPF filter (pcap-filter(7)). Omitted: defaultMirrorFilter() (GRE, and UDP to 4789 and 6081);
   * '' captures everything. Callers with other VXLAN/Geneve ports build theirs with defaultMirrorFilter(ports).
   */
  filter?: string;
  /** Bytes kept per frame: the size of the one reused buffer (default and maximum 65535, cap's fixed kernel snaplen). */
  snaplen?: number;
  /** libpcap's kernel ring, in bytes (default 32 MiB): what absorbs bursts while JavaScript is busy. */
  bufferSize?: number;
  /** The reused buffer itself, if the caller wants to own it; its length is the snaplen. */
  buffer?: Buffer;
}

export interface LiveCaptureStats {
  /** Frames handed to the consumer. */
  frames: number;
  /** Captured bytes handed to the consumer. */
  bytes: number;
  /** Frames cut to the snaplen (cap's `truncated`): their wireLen is unknown and reported as capLen. */
  truncated: number;
  /** Frames the kernel dropped (ring full): null, because cap 0.2.1 does not expose pcap_stats. */
  kernelDrops: number | null;
}

export interface LiveCapture {
  readonly iface: string;
  readonly filter: string;
  /** LINKTYPE_* of the interface (1 on Ethernet and veth). */
  readonly linkType: number;
  /** cap's name for it ('ETHERNET', 'LINKTYPE_LINUX_SLL', 'RAW', ...). */
  readonly linkTypeName: string;
  readonly stats: LiveCaptureStats;
  readonly closed: boolean;
  /** Stops capturing; idempotent, and safe from inside onFrame (the current frame completes). */
  close(): void;
}

// ---- loading cap ---------------------------------------------------------------------------------

/** The part of cap's native handle we use. */
export interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  send(buffer: Uint8Array, nBytes?: number): void;
}

interface CapModule {
  Cap: new () => CapHandle;
  deviceList(): Array<{ name: string; description?: string; addresses: Array<{ addr?: string }>; flags?: string }>;
}

type PacketSink = (nbytes: number, truncated: boolean) => void;

interface Loaded {
  mod: CapModule;
  /** cap's class with its own emit: packets go straight to `sink`. */
  Fast: new () => CapHandle & { sink: PacketSink; keep: Buffer | null };
}

let loaded: Loaded | null = null;
/** Handles whose open() failed: never touched again, never collected (see the note at the top). */
const pinned: unknown[] = [];

const INSTALL_HINT =
  "live capture needs the optional npm package 'cap' built against libpcap: " +
  'apt-get install libpcap-dev (Debian/Ubuntu; libpcap-devel elsewhere), then npm install (or npm rebuild cap)';

function noop(): void {}

/** Loads cap on first use, so everything else in tapwatch works without it. Throws TWC0002. */
export function loadCap(): CapModule {
  return load().mod;
}

function load(): Loaded {
  if (loaded !== null) return loaded;
  let mod: CapModule;
  try {
    mod = createRequire(import.meta.url)('cap') as CapModule;
  } catch (e) {
    throw new LiveCaptureError('TWC0002', `${INSTALL_HINT} (loading it failed: ${(e as Error).message.split('\n')[0]})`, { cause: e });
  }
  if (typeof mod?.Cap !== 'function') {
    throw new LiveCaptureError('TWC0002', `${INSTALL_HINT} (the package 'cap' that loaded has no Cap class)`);
  }
  const Base = mod.Cap;
  class Fast extends Base {
    sink: PacketSink = noop;
    keep: Buffer | null = null;
    // Called by the native side for every packet (emit('packet', nbytes, truncated)); cap emits nothing else.
    emit(_event: string, nbytes: number, truncated: boolean): boolean {
      this.sink(nbytes, truncated);
      return true;
    }
  }
  loaded = { mod, Fast };
  return loaded;
}

// ---- link types ----------------------------------------------------------------------------------

const LINKTYPE_IEEE802_11_RADIOTAP = 127;

/** cap's link type string → LINKTYPE_* (tcpdump.org/linktypes.html); -1 when it names none. */
export function capLinkType(name: string): number {
  switch (name) {
    case 'ETHERNET': return LINKTYPE_ETHERNET;
    case 'LINKTYPE_LINUX_SLL': return LINKTYPE_LINUX_SLL;
    case 'RAW': return LINKTYPE_RAW; // DLT_RAW is 12 or 14 depending on the OS; the file value is 101
    case 'NULL': return LINKTYPE_NULL;
    case 'IEEE802_11_RADIO': return LINKTYPE_IEEE802_11_RADIOTAP;
    default: {
      // 'Unknown linktype N' carries the DLT_ value, which equals the LINKTYPE_ value from 104 up
      // (SLL2 is 276) and for the few low ones cap does not name.
      const m = /^Unknown linktype (\d+)$/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

// ---- the default filter --------------------------------------------------------------------------

function checkPorts(name: string, ports: readonly number[]): void {
  if (ports.length === 0) throw new LiveCaptureError('TWC0006', `${name}: at least one port is needed`);
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new LiveCaptureError('TWC0006', `${name}: ${p} is not a UDP port`);
  }
}

/**
 * The BPF filter for a mirror port: GRE (which carries ERSPAN too) and VXLAN/Geneve by UDP
 * destination port, over IPv4 and IPv6 alike. libpcap's `proto gre` already means `ip proto 47 or
 * ip6 proto 47` (and follows one IPv6 fragment header), and `udp` both `ip proto 17` and `ip6 proto 17`
 * (checked with `tcpdump -d`, libpcap 1.10.3). As in any pcap filter, the ports of a non-first IPv4
 * fragment are not seen, and IPv6 extension headers other than one fragment header are not followed.
 */
export function defaultMirrorFilter(vxlanPorts: readonly number[] = [VXLAN_PORT], genevePorts: readonly number[] = [GENEVE_PORT]): string {
  checkPorts('vxlanPorts', vxlanPorts);
  checkPorts('genevePorts', genevePorts);
  const ports = [...new Set([...vxlanPorts, ...genevePorts])];
  return ['proto gre', ...ports.map((p) => `udp dst port ${p}`)].join(' or ');
}

// ---- opening -------------------------------------------------------------------------------------

const DEFAULT_SNAPLEN = 65535;
const DEFAULT_RING = 32 * 1024 * 1024;

function openError(iface: string, filter: string, e: unknown): LiveCaptureError {
  const msg = (e as Error)?.message ?? String(e);
  if (/not permitted|permission|EPERM|EACCES/i.test(msg)) {
    return new LiveCaptureError(
      'TWC0003',
      `capturing on ${iface} needs root or CAP_NET_RAW (libpcap: ${msg}); as root: setcap cap_net_raw,cap_net_admin+eip $(which node)`,
      { cause: e },
    );
  }
  if (/filter/i.test(msg)) {
    return new LiveCaptureError('TWC0004', `capture filter '${filter}' on ${iface}: ${msg}`, { cause: e });
  }
  return new LiveCaptureError('TWC0005', `cannot capture on ${iface}: ${msg}`, { cause: e });
}

function checkSize(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LiveCaptureError('TWC0006', `${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}

class CapLiveCapture implements LiveCapture {
  readonly stats: LiveCaptureStats = { frames: 0, bytes: 0, truncated: 0, kernelDrops: null };
  closed = false;

  constructor(
    readonly iface: string,
    readonly filter: string,
    readonly linkType: number,
    readonly linkTypeName: string,
    private readonly cap: CapHandle,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cap.close();
  }
}

/**
 * Opens `opts.iface` and delivers every frame to `consumer.onFrame`, one reused Frame, from now until
 * close(). Throws LiveCaptureError: TWC0002 (cap missing or not loadable),
 * TWC0003 (not root, no CAP_NET_RAW), TWC0004 (filter does not
 * compile), TWC0005 (no such device, ...), TWC0006 (bad option).
 * An open capture keeps the process alive; close() lets it exit.
 */
export function openLiveCapture(opts: LiveCaptureOptions, consumer: FrameConsumer): LiveCapture {
  const iface = opts.iface;
  if (typeof iface !== 'string' || iface === '') throw new LiveCaptureError('TWC0006', 'iface must be a non-empty interface name');
  const filter = opts.filter ?? defaultMirrorFilter();
  const buffer = opts.buffer ?? Buffer.alloc(opts.snaplen ?? DEFAULT_SNAPLEN);
  checkSize('snaplen', buffer.length, 64, DEFAULT_SNAPLEN);
  if (opts.buffer !== undefined && opts.snaplen !== undefined && opts.snaplen !== buffer.length) {
    throw new LiveCaptureError('TWC0006', `snaplen ${opts.snaplen} differs from the supplied buffer's length ${buffer.length}`);
  }
  const ring = opts.bufferSize ?? DEFAULT_RING;
  checkSize('bufferSize', ring, 65536, 0x7fffffff);

  const { Fast } = load();
  const cap = new Fast();
  cap.keep = buffer; // cap holds only a raw pointer to it
  let name: string;
  try {
    name = cap.open(iface, filter, ring, buffer);
  } catch (e) {
    pinned.push(cap);
    throw openError(iface, filter, e);
  }
  const linkType = capLinkType(name);
  const live = new CapLiveCapture(iface, filter, linkType, name, cap);
  const stats = live.stats;
  const frame = new Frame();
  frame.buf = buffer;
  frame.off = 0;
  frame.linkType = linkType;
  // Wall clock as epoch milliseconds. performance.timeOrigin + performance.now() is monotonic within
  // the process, and costs ~55 ns; like Date.now(), each call returns a fresh heap number (16 bytes),
  // measured on Node 20 — the only allocation on our side of the per-frame path.
  const origin = performance.timeOrigin;
  cap.sink = (nbytes: number, truncated: boolean): void => {
    const ms = origin + performance.now();
    const sec = Math.floor(ms / 1000);
    frame.tsSec = sec;
    frame.tsNsec = Math.floor((ms - sec * 1000) * 1e6);
    frame.capLen = nbytes;
    frame.wireLen = nbytes;
    stats.frames++;
    stats.bytes += nbytes;
    if (truncated) stats.truncated++;
    consumer.onFrame(frame);
  };
  return live;
}

// ---- sending -------------------------------------------------------------------------------------

export interface FrameInjector {
  readonly iface: string;
  readonly linkType: number;
  /** pcap_sendpacket of bytes[0, len): throws libpcap's error ('send: Message too long', ...). */
  send(bytes: Uint8Array, len?: number): void;
  close(): void;
}

/**
 * A handle for sending raw frames on `iface` (pcap_inject/pcap_sendpacket through cap). cap can only
 * send on an open capture handle, so this opens one whose filter matches nothing. Errors as openLiveCapture.
 */
export function openInjector(iface: string): FrameInjector {
  const { Fast } = load();
  const cap = new Fast();
  const buffer = Buffer.alloc(64);
  cap.keep = buffer;
  const filter = 'less 1'; // no frame is that short: nothing is captured
  let name: string;
  try {
    name = cap.open(iface, filter, 1 << 20, buffer);
  } catch (e) {
    pinned.push(cap);
    throw openError(iface, filter, e);
  }
  let closed = false;
  return {
    iface,
    linkType: capLinkType(name),
    send(bytes: Uint8Array, len = bytes.length): void {
      if (closed) throw new LiveCaptureError('TWC0005', `injector on ${iface} is closed`);
      cap.send(bytes, len);
    },
    close(): void {
      if (closed) return;
      closed = true;
      cap.close();
    },
  };
}
