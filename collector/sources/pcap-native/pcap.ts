// The TypeScript face of pcap_binding.c (our own libpcap binding; see the top of that file for the
// batch protocol). Only loading and types live here; collector/sources/live-capture.ts builds the
// capture loop on it.
//
// The compiled addon is built by the root package's install script (`npm ci` runs
// `node-gyp rebuild -C collector/sources/pcap-native`) into build/Release/ next to binding.gyp, in the
// source tree: it is found from there whether this file runs from the sources or from dist/ (tsc's
// output does not copy it). TAPWATCH_PCAP_BINDING overrides the path (tests use it to simulate a
// missing build).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { ReadAhead } from '../../../gre-decap/readers/byte-source.js';

/** Words of metadata per packet in the meta array: offset, caplen, wire length, ts seconds, ts nanoseconds. */
export const META_FIELDS = 5;

/** One libpcap handle (pcap_t) and its poll. */
export interface NativePcapHandle {
  /** pcap_create + immediate mode, snaplen, promisc, buffer size, activate, filter, non-blocking: the DLT_ value. */
  open(device: string, snaplen: number, promisc: boolean, bufferSize: number, filter: string | null): number;
  /** libpcap's name for the link type ('EN10MB', 'LINUX_SLL', 'RAW', ...). */
  datalinkName(): string;
  /** The ring packets are copied into, the metadata (META_FIELDS words a packet), and stats()'s output: kept referenced natively. */
  setBuffers(ring: Uint8Array, meta: Uint32Array, stats: Float64Array): void;
  /**
   * Reads on the event loop: one callback per batch with the packet count, -1 after an error (lastError()).
   * The descriptor is polled while idle; after a read that found packets the next read is coalesceMs
   * later (0: poll only), so a busy capture turns the event loop ~1000/coalesceMs times a second.
   */
  start(onBatch: (count: number) => void, coalesceMs: number): void;
  /**
   * Reads what is waiting now, synchronously, through the same callback; returns the packets read. An
   * exception from the callback stops the read and is thrown here; a buffer detached since setBuffers()
   * makes it throw (PCAP_BINDING) instead of writing to freed memory.
   */
  dispatch(onBatch?: (count: number) => void): number;
  /** pcap_stats into the stats array: [ps_recv, ps_drop, ps_ifdrop] (libpcap's unsigned 32-bit counters). */
  stats(): void;
  /** pcap_inject of bytes[0, length): the bytes sent. */
  inject(bytes: Uint8Array, length: number): number;
  /** Stops polling and closes libpcap; idempotent; inside a batch callback it takes effect when the batch returns. */
  close(): void;
  lastError(): string;
}

export interface PcapBinding {
  PcapHandle: new () => NativePcapHandle;
  libVersion(): string;
  META_FIELDS: number;
  /** read(2) of up to `length` bytes into bytes[offset, ...): the bytes read (0 at the end), or -errno. Allocates nothing. */
  readInto(fd: number, bytes: Uint8Array, offset: number, length: number): number;
  /** readInto on a thread of its own, asked for before it is needed (gre-decap/readers/byte-source.ts ReadAhead). */
  ReadAhead: new (fd: number) => ReadAhead;
}

/** Where the addon is looked for: next to binding.gyp in the source tree, from here or from dist/. */
export function bindingPath(): string {
  const env = process.env.TAPWATCH_PCAP_BINDING;
  if (env) return env;
  const rel = join('build', 'Release', 'pcap_binding.node');
  const here = import.meta.dirname; // <repo>/collector/sources/pcap-native or <repo>/dist/collector/sources/pcap-native
  const fromSource = join(here, rel);
  const fromDist = resolve(here, '..', '..', '..', '..', 'collector', 'sources', 'pcap-native', rel);
  if (existsSync(fromSource)) return fromSource;
  return /[\\/]dist[\\/]collector[\\/]sources[\\/]pcap-native$/.test(here) ? fromDist : fromSource;
}

export class PcapBindingMissing extends Error {
  constructor(readonly path: string, cause: unknown) {
    super(`${path}: ${(cause as Error)?.message?.split('\n')[0] ?? String(cause)}`, { cause });
    this.name = 'PcapBindingMissing';
  }
}

let loaded: PcapBinding | null = null;

/** The addon's allocation-free read for capture files (openCapture's `read`), or undefined when it is not built. */
export function nativeRead(): PcapBinding['readInto'] | undefined {
  try {
    return loadPcapBinding().readInto;
  } catch {
    return undefined;
  }
}

/** The addon's read ahead for capture files (openCapture's `readAhead`), or undefined when it is not built. */
export function nativeReadAhead(): ((fd: number) => ReadAhead) | undefined {
  try {
    const { ReadAhead } = loadPcapBinding();
    return (fd) => new ReadAhead(fd);
  } catch {
    return undefined;
  }
}

/** Loads the addon once; throws PcapBindingMissing when it is not built or does not load. */
export function loadPcapBinding(): PcapBinding {
  if (loaded !== null) return loaded;
  const path = bindingPath();
  let mod: PcapBinding;
  try {
    mod = createRequire(import.meta.url)(path) as PcapBinding;
  } catch (e) {
    throw new PcapBindingMissing(path, e);
  }
  if (typeof mod?.PcapHandle !== 'function' || typeof mod.readInto !== 'function' || typeof mod.ReadAhead !== 'function' || mod.META_FIELDS !== META_FIELDS) {
    throw new PcapBindingMissing(path, new Error('not the pcap binding this code was written for (rebuild it)'));
  }
  loaded = mod;
  return mod;
}
