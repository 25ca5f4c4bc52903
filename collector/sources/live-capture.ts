// Live capture from a network interface through libpcap, via our own N-API binding
// (collector/sources/pcap-native/: pcap_binding.c on node_api.h, built by `npm ci`). It was the npm
// package `cap` 0.2.1 until issue 14/12: cap made one JavaScript call per packet and could not read
// libpcap's kernel drop counters.
//
// The loop allocates nothing per packet in JavaScript. One ring (a Buffer of RING_BYTES) and one
// Uint32Array of per-packet metadata are allocated at open; the binding copies a batch of packets
// into the ring (pcap_dispatch on a non-blocking descriptor, woken by a uv_poll_t), writes offset,
// captured length, wire length and timestamp per packet, and makes ONE call per batch with the count.
// We point ONE reused Frame at each packet in turn (buf = ring, off = its offset) and hand it to the
// FrameConsumer synchronously, so the consumer sees what a pcap replay gives it: real wire lengths and
// libpcap's timestamps (nanosecond precision where the platform has it).
//
// libpcap is opened in immediate mode (frames are delivered as they arrive), promiscuous, with the
// given snaplen and kernel buffer size, and the BPF filter. readKernelStats() reads pcap_stats
// (ps_recv, ps_drop, ps_ifdrop) into a preallocated array: the live source calls it once per tick,
// never per packet. On Linux ps_drop counts frames the socket's ring had no room for (tapwatch was too
// slow), ps_ifdrop frames the interface itself dropped.
//
// pcap_inject on an open handle sends a frame as-is (openInjector). Linux refuses a frame longer than
// MTU + 14 ("Message too long") or shorter than 14 bytes ("Invalid argument").

import { Frame } from '../../gre-decap/readers/frame.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_NULL, LINKTYPE_RAW, VXLAN_PORT, GENEVE_PORT,
} from '../../gre-decap/layers.js';
import type { FrameConsumer } from './frame-consumer.js';
import { loadPcapBinding, META_FIELDS, PcapBindingMissing, type NativePcapHandle, type PcapBinding } from './pcap-native/pcap.js';

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
  /** Bytes kept per frame (default and maximum 65535). */
  snaplen?: number;
  /** libpcap's kernel ring, in bytes (default 32 MiB): what absorbs bursts while JavaScript is busy. */
  bufferSize?: number;
  /** Bytes of the user-space batch ring (default 4 MiB; at least the snaplen). */
  ringBytes?: number;
  /** Packets per batch at most (default 1024). */
  batch?: number;
  /**
   * While traffic flows, read every this many milliseconds instead of at every wakeup (default 1; 0:
   * at every wakeup). Idle, the first frame is read at once. Bounds the event loop's turns (and the
   * ~56 bytes of garbage Node makes on each) to ~1000 a second under load.
   */
  coalesceMs?: number;
  /** 'loop' (default): read on the event loop. 'manual': only when the caller calls dispatch(). */
  drive?: 'loop' | 'manual';
  /** Promiscuous mode (default true: a mirror port receives frames for other MACs). */
  promisc?: boolean;
  /** A read failed after the open (interface gone, ...): the capture is closed first. Default: thrown from the event loop. */
  onError?: (err: LiveCaptureError) => void;
}

export interface LiveCaptureStats {
  /** Frames handed to the consumer. */
  frames: number;
  /** Captured bytes handed to the consumer. */
  bytes: number;
  /** Frames cut to the snaplen (captured length below the wire length). */
  truncated: number;
  /** libpcap's ps_recv at the last readKernelStats(): frames that passed the filter (received by the socket). */
  kernelReceived: number;
  /** libpcap's ps_drop at the last readKernelStats(): frames the kernel dropped because the ring was full. */
  kernelDrops: number | null;
  /** libpcap's ps_ifdrop at the last readKernelStats(): frames the interface (driver) dropped. */
  interfaceDrops: number;
  /** Batches delivered by the binding (one JavaScript call each). */
  batches: number;
}

export interface LiveCapture {
  readonly iface: string;
  readonly filter: string;
  /** LINKTYPE_* of the interface (1 on Ethernet and veth). */
  readonly linkType: number;
  /** libpcap's name for it ('EN10MB', 'LINUX_SLL', 'RAW', ...). */
  readonly linkTypeName: string;
  readonly stats: LiveCaptureStats;
  readonly closed: boolean;
  /**
   * Reads libpcap's counters (pcap_stats) into stats.kernelReceived / kernelDrops / interfaceDrops,
   * widened past libpcap's 32-bit wrap. Cheap, but a system call: once per tick, not per packet.
   * After close() it keeps the last values read (close() reads them once more first).
   */
  readKernelStats(): LiveCaptureStats;
  /** Reads what is waiting now, synchronously, delivering it to the consumer; returns the frames read. */
  dispatch(): number;
  /** Stops capturing; idempotent, and safe from inside onFrame (the current frame completes). */
  close(): void;
}

// ---- loading the binding -------------------------------------------------------------------------

const INSTALL_HINT =
  'live capture needs the pcap binding (collector/sources/pcap-native) built against libpcap: ' +
  'apt-get install libpcap-dev (Debian/Ubuntu; libpcap-devel elsewhere), then npm ci (or npm run install)';

/** Loads the binding on first use, so everything else in tapwatch works without it. Throws TWC0002. */
export function loadPcap(): PcapBinding {
  try {
    return loadPcapBinding();
  } catch (e) {
    const why = e instanceof PcapBindingMissing ? e.message : (e as Error).message;
    throw new LiveCaptureError('TWC0002', `${INSTALL_HINT} (loading it failed: ${why})`, { cause: e });
  }
}

// ---- link types ----------------------------------------------------------------------------------

/**
 * libpcap's DLT_ value → LINKTYPE_* (tcpdump.org/linktypes.html). They are equal except for the few
 * whose DLT_ value differs by OS: DLT_RAW is 12 or 14 (LINKTYPE_RAW 101), DLT_LINUX_SLL is 113 on all.
 */
export function dltToLinkType(dlt: number): number {
  switch (dlt) {
    case 12: case 14: return LINKTYPE_RAW;
    case 0: return LINKTYPE_NULL;
    case 1: return LINKTYPE_ETHERNET;
    case 113: return LINKTYPE_LINUX_SLL;
    default: return dlt;
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
const DEFAULT_KERNEL_BUFFER = 32 * 1024 * 1024;
const DEFAULT_RING = 4 * 1024 * 1024;
const DEFAULT_BATCH = 1024;

/** libpcap's error (code = its status name, message = pcap_geterr) → one line an operator can act on. */
function openError(iface: string, filter: string, e: unknown): LiveCaptureError {
  const msg = ((e as Error)?.message ?? String(e)).split('\n')[0];
  const code = (e as { code?: string })?.code ?? '';
  if (code === 'PCAP_ERROR_PERM_DENIED' || code === 'PCAP_ERROR_PROMISC_PERM_DENIED' || /not permitted|permission|EPERM|EACCES/i.test(msg)) {
    return new LiveCaptureError(
      'TWC0003',
      `capturing on ${iface} needs root or CAP_NET_RAW (libpcap: ${msg}); as root: setcap cap_net_raw,cap_net_admin+eip $(which node)`,
      { cause: e },
    );
  }
  if (code === 'PCAP_ERROR_FILTER') {
    return new LiveCaptureError('TWC0004', `capture filter '${filter}' on ${iface}: ${msg}`, { cause: e });
  }
  if (code === 'PCAP_ERROR_NO_SUCH_DEVICE') {
    return new LiveCaptureError('TWC0005', `cannot capture on ${iface}: no such interface (libpcap: ${msg}); \`ip link\` lists them`, { cause: e });
  }
  if (code === 'PCAP_ERROR_IFACE_NOT_UP') {
    return new LiveCaptureError('TWC0005', `cannot capture on ${iface}: the interface is down (libpcap: ${msg}); ip link set ${iface} up`, { cause: e });
  }
  return new LiveCaptureError('TWC0005', `cannot capture on ${iface}: ${msg}`, { cause: e });
}

function checkSize(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LiveCaptureError('TWC0006', `${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}

/** Opens and activates a handle with its buffers set; closes it again and throws LiveCaptureError on failure. */
function openHandle(iface: string, filter: string, snaplen: number, bufferSize: number, promisc: boolean, ring: Uint8Array, meta: Uint32Array, kstats: Float64Array): { h: NativePcapHandle; dlt: number } {
  const { PcapHandle } = loadPcap();
  const h = new PcapHandle();
  let dlt: number;
  try {
    dlt = h.open(iface, snaplen, promisc, bufferSize, filter === '' ? null : filter);
  } catch (e) {
    throw openError(iface, filter, e);
  }
  h.setBuffers(ring, meta, kstats);
  return { h, dlt };
}

const U32 = 2 ** 32;

class PcapLiveCapture implements LiveCapture {
  readonly stats: LiveCaptureStats = { frames: 0, bytes: 0, truncated: 0, kernelReceived: 0, kernelDrops: 0, interfaceDrops: 0, batches: 0 };
  closed = false;
  /** libpcap's raw 32-bit counters at the last read, to widen them across a wrap. */
  private readonly raw = new Float64Array(3);

  constructor(
    readonly iface: string,
    readonly filter: string,
    readonly linkType: number,
    readonly linkTypeName: string,
    private readonly handle: NativePcapHandle,
    private readonly kstats: Float64Array,
  ) {}

  dispatch(): number {
    if (this.closed) return 0;
    try {
      return this.handle.dispatch();
    } catch (e) {
      throw new LiveCaptureError('TWC0005', `capture on ${this.iface} stopped: ${(e as Error).message}`, { cause: e });
    }
  }

  readKernelStats(): LiveCaptureStats {
    if (this.closed) return this.stats;
    this.handle.stats();
    const k = this.kstats;
    const raw = this.raw;
    const s = this.stats;
    const d0 = (k[0] - raw[0] + U32) % U32;
    const d1 = (k[1] - raw[1] + U32) % U32;
    const d2 = (k[2] - raw[2] + U32) % U32;
    raw[0] = k[0];
    raw[1] = k[1];
    raw[2] = k[2];
    s.kernelReceived += d0;
    s.kernelDrops = (s.kernelDrops ?? 0) + d1;
    s.interfaceDrops += d2;
    return s;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.readKernelStats();
    } catch {
      // the interface is gone: keep the last counters read
    }
    this.closed = true;
    this.handle.close();
  }
}

/**
 * Opens `opts.iface` and delivers every frame to `consumer.onFrame`, one reused Frame, from now until
 * close(). Throws LiveCaptureError: TWC0002 (binding not built or not loadable),
 * TWC0003 (not root, no CAP_NET_RAW), TWC0004 (filter does not compile), TWC0005 (no such device,
 * interface down, ...), TWC0006 (bad option).
 * An open capture keeps the process alive; close() lets it exit.
 */
export function openLiveCapture(opts: LiveCaptureOptions, consumer: FrameConsumer): LiveCapture {
  const iface = opts.iface;
  if (typeof iface !== 'string' || iface === '') throw new LiveCaptureError('TWC0006', 'iface must be a non-empty interface name');
  const filter = opts.filter ?? defaultMirrorFilter();
  const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
  checkSize('snaplen', snaplen, 64, DEFAULT_SNAPLEN);
  const bufferSize = opts.bufferSize ?? DEFAULT_KERNEL_BUFFER;
  checkSize('bufferSize', bufferSize, 65536, 0x7fffffff);
  const ringBytes = opts.ringBytes ?? Math.max(DEFAULT_RING, snaplen);
  checkSize('ringBytes', ringBytes, snaplen, 1 << 30);
  const batch = opts.batch ?? DEFAULT_BATCH;
  checkSize('batch', batch, 1, 1 << 20);
  const coalesceMs = opts.coalesceMs ?? 1;
  checkSize('coalesceMs', coalesceMs, 0, 1000); // before the handle is opened: a refusal leaves nothing open

  const ring = Buffer.alloc(ringBytes);
  const meta = new Uint32Array(batch * META_FIELDS);
  const kstats = new Float64Array(3);
  const { h, dlt } = openHandle(iface, filter, snaplen, bufferSize, opts.promisc ?? true, ring, meta, kstats);
  const linkType = dltToLinkType(dlt);
  const live = new PcapLiveCapture(iface, filter, linkType, h.datalinkName(), h, kstats);
  const stats = live.stats;
  const frame = new Frame();
  frame.buf = ring;
  frame.linkType = linkType;
  const onError = opts.onError;
  const onBatch = (n: number): void => {
    if (n < 0) {
      const err = new LiveCaptureError('TWC0005', `capture on ${iface} stopped: ${h.lastError()}`);
      live.close();
      if (onError === undefined) throw err;
      onError(err);
      return;
    }
    stats.batches++;
    for (let i = 0, m = 0; i < n; i++, m += META_FIELDS) {
      const capLen = meta[m + 1];
      const wireLen = meta[m + 2];
      frame.off = meta[m];
      frame.capLen = capLen;
      frame.wireLen = wireLen;
      frame.tsSec = meta[m + 3];
      frame.tsNsec = meta[m + 4];
      stats.frames++;
      stats.bytes += capLen;
      if (capLen < wireLen) stats.truncated++;
      consumer.onFrame(frame);
      if (live.closed) return; // closed from onFrame: the rest of the batch is not delivered
    }
  };
  try {
    if (opts.drive === 'manual') h.dispatch(onBatch); // sets the callback; reads what is there already
    else h.start(onBatch, coalesceMs);
  } catch (e) {
    h.close();
    throw openError(iface, filter, e);
  }
  return live;
}

// ---- sending -------------------------------------------------------------------------------------

export interface FrameInjector {
  readonly iface: string;
  readonly linkType: number;
  /** pcap_inject of bytes[0, len): throws libpcap's error ('send: Message too long', ...). */
  send(bytes: Uint8Array, len?: number): void;
  close(): void;
}

/**
 * A handle for sending raw frames on `iface` (pcap_inject through the binding). It is an activated
 * libpcap handle whose filter matches nothing and which is never polled. Errors as openLiveCapture.
 */
export function openInjector(iface: string): FrameInjector {
  const filter = 'less 1'; // no frame is that short: nothing is captured
  const { h, dlt } = openHandle(iface, filter, 256, 1 << 20, false, Buffer.alloc(256), new Uint32Array(META_FIELDS), new Float64Array(3));
  let closed = false;
  return {
    iface,
    linkType: dltToLinkType(dlt),
    send(bytes: Uint8Array, len = bytes.length): void {
      if (closed) throw new LiveCaptureError('TWC0005', `injector on ${iface} is closed`);
      h.inject(bytes, len);
    },
    close(): void {
      if (closed) return;
      closed = true;
      h.close();
    },
  };
}
