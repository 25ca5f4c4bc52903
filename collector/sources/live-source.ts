// Live sources: a libpcap capture on an interface, or a UDP socket receiving VXLAN/Geneve. Both
// close intervals on the wall clock (a one-second tick) and hand closed intervals to the pipeline
// without waiting: a live source cannot pause the network, so the pipeline bounds what it keeps.
//
// The UDP socket receives only the tunnel payload, and Node allocates a Buffer per datagram; to
// reuse the whole decode path (and record the gateway as mirror source) each datagram is copied
// behind a synthetic IPv4/UDP header from the sender's address and decoded as raw IP.

import { createSocket, type RemoteInfo } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Frame } from '../../gre-decap/readers/frame.js';
import { LINKTYPE_RAW } from '../../gre-decap/layers.js';
import type { Collector } from '../collector.js';
import { parseIpv6Words } from '../device-nets.js';
import type { Pipeline } from '../pipeline.js';
import { put16, put32 } from '../../net/put.js';

export interface LiveSourceOptions {
  iface?: string;
  filter?: string;
  udpPort?: number;
  udpHost: string;
  vxlanPorts: number[];
  genevePorts: number[];
  collector: Collector;
  pipeline: Pipeline;
  log: Logger;
  /** Seconds of the window capture loss is judged over (default 10): loss().windowDropped/windowReceived cover the last one completed. */
  lossWindowSec?: number;
  /** A delivery failed for good (an output that cannot be written): the caller stops. Otherwise it is logged and retried. */
  onSinkFailed?: (err: Error) => boolean;
  /** The capture failed after it started (interface gone): return true when the caller stops the source itself. */
  onSourceFailed?: (err: Error) => boolean;
}

/** Packets lost before tapwatch read them, where the source can tell (dropped null: it cannot). */
export interface CaptureLoss {
  /** Since the start: dropped by the kernel (libpcap ps_drop, or the UDP socket's drops). */
  dropped: number | null;
  /** Since the start: packets the source received (libpcap ps_recv; datagrams read on UDP). */
  received: number;
  /** libpcap ps_ifdrop since the start: dropped by the interface or its driver (live capture only). */
  ifDropped?: number;
  /** The same over the last completed loss window (what health judges); absent until one has completed. */
  windowDropped?: number;
  windowReceived?: number;
}

export interface LiveSourceHandle {
  stop(): void;
  /** Resolves after stop(), once the open interval is flushed and the pipeline drained. */
  done: Promise<void>;
  /** Capture loss as last sampled (sampled once per one-second tick, never per packet). */
  loss(): CaptureLoss;
}

export async function startLiveSource(o: LiveSourceOptions): Promise<LiveSourceHandle> {
  let closeSource: () => void;
  /** Reads the source's cumulative loss counters (a system call or a /proc read: once per tick). */
  let sampleLoss: () => CaptureLoss;
  let stopFromSource: ((err: Error) => void) | undefined;
  if (o.iface !== undefined) {
    const { openLiveCapture, defaultMirrorFilter } = await import('./live-capture.js');
    const filter = o.filter ?? defaultMirrorFilter(o.vxlanPorts, o.genevePorts);
    const cap = openLiveCapture({
      iface: o.iface, filter,
      onError: (err) => {
        o.log.error({ err: err.message, code: err.code }, 'live capture failed');
        stopFromSource?.(err);
      },
    }, o.collector);
    o.log.info({ interface: o.iface, filter, linkType: cap.linkType }, 'live capture started');
    closeSource = () => cap.close();
    sampleLoss = () => {
      const s = cap.readKernelStats();
      return { dropped: s.kernelDrops, received: s.kernelReceived, ifDropped: s.interfaceDrops };
    };
  } else {
    closeSource = await listenUdp(o);
    const port = o.udpPort!;
    const v6 = o.udpHost.includes(':');
    // Every datagram is one frame.
    sampleLoss = () => ({ dropped: udpSocketDrops(port, v6), received: o.collector.decap.frames });
  }

  // Loss: sampled once a tick; the window's figures are the difference across the last completed window.
  const windowTicks = Math.max(1, Math.round(o.lossWindowSec ?? 10));
  let current: CaptureLoss = sampleLoss();
  let windowStart = current;
  let ticks = 0;
  const loss = (): CaptureLoss => current;
  const sampleTick = (): void => {
    let next: CaptureLoss;
    try {
      next = sampleLoss();
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, 'capture statistics unreadable');
      return;
    }
    if (++ticks >= windowTicks) {
      ticks = 0;
      next.windowDropped = next.dropped === null || windowStart.dropped === null ? undefined : next.dropped - windowStart.dropped;
      next.windowReceived = next.received - windowStart.received;
      windowStart = next;
    } else {
      next.windowDropped = current.windowDropped;
      next.windowReceived = current.windowReceived;
    }
    current = next;
  };

  const tick = setInterval(() => {
    sampleTick();
    o.collector.tick(Math.floor(Date.now() / 1000));
    if (o.pipeline.queue.length > 0) {
      o.pipeline.drain().catch((err) => {
        if (!o.onSinkFailed?.(err as Error)) o.log.error({ err: (err as Error).message }, 'sink failed');
      });
    }
  }, 1000);

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopped = false;
  const handle: LiveSourceHandle = {
    done,
    loss,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(tick);
      try {
        sampleTick(); // the last figures, before the source closes
      } catch {
        // logged by sampleTick
      }
      closeSource();
      o.collector.finish();
      // The last flush fails as any other would: through onSinkFailed, so the command exits 1 saying why.
      o.pipeline
        .drain()
        .catch((err) => {
          if (!o.onSinkFailed?.(err as Error)) o.log.error({ err: (err as Error).message }, 'sink failed at shutdown');
        })
        .finally(resolveDone);
    },
  };
  stopFromSource = (err) => {
    if (!o.onSourceFailed?.(err)) handle.stop();
  };
  return handle;
}

/**
 * Datagrams the kernel dropped on the UDP socket bound to `port` (its receive buffer was full), from the
 * `drops` column of /proc/net/udp(6); null where that file is not there (not Linux) or lists no such socket.
 */
export function udpSocketDrops(port: number, v6: boolean, table?: string): number | null {
  let text = table;
  if (text === undefined) {
    try {
      text = readFileSync(v6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
    } catch {
      return null;
    }
  }
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let drops: number | null = null;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 13 && f[1].endsWith(suffix)) drops = (drops ?? 0) + Number(f[12]);
  }
  return drops;
}

async function listenUdp(o: LiveSourceOptions): Promise<() => void> {
  const port = o.udpPort!;
  const v6 = o.udpHost.includes(':');
  const sock = createSocket({ type: v6 ? 'udp6' : 'udp4', recvBufferSize: 8 << 20 });
  const frame = new Frame();
  const scratch = new Uint8Array(65536 + 48);
  frame.buf = scratch;
  frame.linkType = LINKTYPE_RAW;
  sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const hdr = rinfo.family === 'IPv4' ? writeIpv4Udp(scratch, rinfo, port, msg.length) : writeIpv6Udp(scratch, rinfo, port, msg.length);
    scratch.set(msg, hdr);
    const now = Date.now();
    frame.capLen = frame.wireLen = hdr + msg.length;
    frame.tsSec = Math.floor(now / 1000);
    frame.tsNsec = (now % 1000) * 1e6;
    o.collector.onFrame(frame);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, o.udpHost, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', (err) => o.log.error({ err: err.message }, 'udp socket error'));
  o.log.info({ listen: `${o.udpHost}:${port}` }, 'listening for VXLAN/Geneve datagrams');
  return () => sock.close();
}

function writeIpv4Udp(b: Uint8Array, r: RemoteInfo, dstPort: number, len: number): number {
  const parts = r.address.split('.');
  b.fill(0, 0, 28);
  b[0] = 0x45;
  put16(b, 2, len + 28);
  b[8] = 64;
  b[9] = 17;
  for (let i = 0; i < 4; i++) b[12 + i] = Number(parts[i]);
  writeUdp(b, 20, r.port, dstPort, len);
  return 28;
}

function writeIpv6Udp(b: Uint8Array, r: RemoteInfo, dstPort: number, len: number): number {
  b.fill(0, 0, 48);
  b[0] = 0x60;
  put16(b, 4, len + 8);
  b[6] = 17;
  b[7] = 64;
  const words = parseIpv6Words(r.address.split('%')[0]);
  for (let i = 0; i < 4; i++) put32(b, 8 + 4 * i, words[i]);
  writeUdp(b, 40, r.port, dstPort, len);
  return 48;
}

function writeUdp(b: Uint8Array, at: number, src: number, dst: number, len: number): void {
  put16(b, at, src);
  put16(b, at + 2, dst);
  put16(b, at + 4, len + 8);
}
