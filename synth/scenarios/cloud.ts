// The Internet the fleet talks to: the cloud services each class uses, by name, and what the
// fleet's resolver answers for those names at a given time. Real cloud endpoints are names in front
// of changing addresses (DIGEST A4: AWS IoT answered 8 A records per query and 29 distinct
// addresses in a week; time.nist.gov 8; a lock's broker 1 address all week); CDNs answer a CNAME to
// an edge name and edge addresses; pool.ntp.org answers 4 of many servers with a 150 s TTL. Addresses
// come from blocks that look like the providers' (AWS, Alibaba, CloudFront, Azure, Google); none is
// real-world accurate, and attacker and scan addresses are kept out of every service pool.

import { mix32, Rand, strHash } from './random.js';
import type { DeviceClass } from './fleet.js';
import { ip4 } from './wire.js';

/** The fleet's resolver (the operator's, outside the device network) and the public one a lock hub hard-codes (DIGEST A5, sifely → OpenDNS). */
export const RESOLVER = ip4(10, 0, 0, 53);
export const HARDCODED_RESOLVER = ip4(208, 67, 222, 222);
/** The operator's syslog collector the gateways send to (no DNS: configured by address). */
export const SYSLOG_COLLECTOR = ip4(10, 0, 1, 14);

type Block = readonly (readonly [number, number, number])[]; // [first octet, second octet from, to] /16s

const BLOCKS = {
  aws: [[3, 64, 79], [18, 184, 199], [52, 28, 31], [35, 156, 159]],
  aliyun: [[47, 88, 91], [8, 209, 209]],
  cloudfront: [[13, 32, 35], [18, 160, 175]],
  azure: [[20, 50, 63], [40, 112, 127]],
  google: [[142, 250, 251], [172, 217, 217]],
  hosting: [[104, 16, 31], [172, 67, 67]],
  ntp: [[5, 39, 39], [31, 131, 131], [45, 33, 33], [62, 116, 116], [78, 46, 46], [81, 7, 7], [85, 199, 199], [94, 16, 16],
    [129, 6, 6], [131, 188, 188], [139, 59, 59], [144, 76, 76], [162, 159, 159], [185, 125, 125], [193, 182, 182], [213, 239, 239]],
  nist: [[129, 6, 6], [132, 163, 163]],
} as const satisfies Record<string, Block>;

/** Blocks attackers use (VPS and bullet-proof hosting look-alikes); never in a service pool. */
export const ATTACKER_BLOCKS: Block = [[45, 9, 9], [91, 92, 92], [185, 220, 220], [193, 42, 42], [194, 26, 26], [5, 188, 188]];

export interface ServiceSpec {
  /** Class-local role: 'broker', 'fw', 'ingest', ... */
  role: string;
  name: string;
  /** Answered as a CNAME to this name, then its A records (CDNs). */
  cname?: string;
  port: number;
  block: Block;
  poolSize: number;
  perAnswer: number;
  ttl: number;
  /** Seconds an answer set lasts before the name answers other addresses of its pool; 0 = never. */
  rotateSec: number;
}

const NTP_POOL = { block: BLOCKS.ntp, poolSize: 96, perAnswer: 4, ttl: 150, rotateSec: 150, port: 123 };

/** The services of each class, by the names its devices resolve. */
export const SERVICES: Record<DeviceClass, ServiceSpec[]> = {
  meter: [
    { role: 'broker', name: 'a3k7xq2m9p1vzt-ats.iot.eu-central-1.amazonaws.com', port: 8883, block: BLOCKS.aws, poolSize: 32, perAnswer: 8, ttl: 60, rotateSec: 86400 },
    { role: 'fw', name: 'fw.gridmetric-iot.com', port: 443, block: BLOCKS.hosting, poolSize: 2, perAnswer: 1, ttl: 300, rotateSec: 0 },
    { role: 'ntp', name: 'pool.ntp.org', ...NTP_POOL },
  ],
  lock: [
    { role: 'broker', name: 'a2HxkLmQpRz.iot-as-mqtt.eu-central-1.aliyuncs.com', port: 1883, block: BLOCKS.aliyun, poolSize: 1, perAnswer: 1, ttl: 10, rotateSec: 0 },
    { role: 'api', name: 'api.lockcloud-engage.com', port: 443, block: BLOCKS.azure, poolSize: 1, perAnswer: 1, ttl: 300, rotateSec: 0 },
    { role: 'fw', name: 'fw.lockcloud-engage.com', port: 443, block: BLOCKS.azure, poolSize: 2, perAnswer: 1, ttl: 300, rotateSec: 0 },
    { role: 'ntp', name: 'time.nist.gov', block: BLOCKS.nist, poolSize: 8, perAnswer: 1, ttl: 300, rotateSec: 3600, port: 123 },
  ],
  tracker: [
    { role: 'coap', name: 'coap.trakr-iot.com', port: 5683, block: BLOCKS.aws, poolSize: 4, perAnswer: 2, ttl: 300, rotateSec: 86400 },
    { role: 'fw', name: 'fw.trakr-iot.com', port: 443, block: BLOCKS.aws, poolSize: 2, perAnswer: 1, ttl: 300, rotateSec: 0 },
    { role: 'ntp', name: '0.pool.ntp.org', ...NTP_POOL },
  ],
  camera: [
    { role: 'control', name: 'mqtt.camvault.io', port: 8883, block: BLOCKS.aws, poolSize: 6, perAnswer: 2, ttl: 60, rotateSec: 86400 },
    { role: 'ingest', name: 'ingest.camvault.io', cname: 'd2k8mxq7w1z3ab.cloudfront.net', port: 443, block: BLOCKS.cloudfront, poolSize: 24, perAnswer: 4, ttl: 60, rotateSec: 86400 },
    { role: 'fw', name: 'fw.camvault.io', cname: 'd9f3ks0lq2vx7c.cloudfront.net', port: 443, block: BLOCKS.cloudfront, poolSize: 8, perAnswer: 4, ttl: 60, rotateSec: 86400 },
    { role: 'ntp', name: 'pool.ntp.org', ...NTP_POOL },
  ],
  gateway: [
    { role: 'api', name: 'api.edgehub.io', port: 443, block: BLOCKS.aws, poolSize: 6, perAnswer: 3, ttl: 60, rotateSec: 86400 },
    { role: 'telemetry', name: 'telemetry.edgehub.io', port: 443, block: BLOCKS.aws, poolSize: 4, perAnswer: 2, ttl: 60, rotateSec: 86400 },
    { role: 'config', name: 'config.edgehub.io', port: 443, block: BLOCKS.hosting, poolSize: 2, perAnswer: 2, ttl: 300, rotateSec: 0 },
    { role: 'logs', name: 'edgehub-logs.s3.eu-central-1.amazonaws.com', port: 443, block: BLOCKS.aws, poolSize: 16, perAnswer: 1, ttl: 5, rotateSec: 60 },
    { role: 'fw', name: 'fw.edgehub.io', port: 443, block: BLOCKS.hosting, poolSize: 2, perAnswer: 1, ttl: 300, rotateSec: 0 },
    { role: 'ntp0', name: '0.pool.ntp.org', ...NTP_POOL },
    { role: 'ntp1', name: '1.pool.ntp.org', ...NTP_POOL },
    { role: 'ntp2', name: '2.pool.ntp.org', ...NTP_POOL },
    { role: 'ntp3', name: '3.pool.ntp.org', ...NTP_POOL },
  ],
};

/** Names a device looks up while it is set up (connectivity checks, time), besides its class's own. */
export const SETUP_SERVICES: ServiceSpec[] = [
  { role: 'check', name: 'connectivitycheck.gstatic.com', port: 80, block: BLOCKS.google, poolSize: 4, perAnswer: 1, ttl: 300, rotateSec: 0 },
  { role: 'check2', name: 'www.google.com', port: 80, block: BLOCKS.google, poolSize: 6, perAnswer: 1, ttl: 300, rotateSec: 0 },
];

export interface Service extends ServiceSpec {
  pool: number[];
  /** A fleet-wide endpoint move: from `movedAt` (µs) the name answers from `movedPool`. */
  movedAt: number;
  movedPool: number[];
  phase: number;
}

function addressIn(block: Block, h: number): number {
  const [a, lo, hi] = block[h % block.length];
  const b = lo + (mix32(h ^ 0x51ed27) % (hi - lo + 1));
  const c = mix32(h ^ 0x2545f491) & 0xff;
  const d = 1 + (mix32(h ^ 0x1b873593) % 254);
  return ip4(a, b, c, d);
}

export interface Resolution {
  cname: string | null;
  addrs: number[];
  ttl: number;
}

export class Cloud {
  private readonly byName = new Map<string, Service>();
  /** Every address some service can answer: attacker and scan addresses avoid these. */
  private readonly used = new Set<number>();

  constructor(readonly seed: number) {
    const specs = [...Object.values(SERVICES).flat(), ...SETUP_SERVICES];
    for (const s of specs) {
      if (this.byName.has(s.name)) continue; // pool.ntp.org is shared by several classes
      const h = strHash(s.name) ^ seed;
      const pool = this.fill(s.block, s.poolSize, h);
      this.byName.set(s.name, { ...s, pool, movedAt: Infinity, movedPool: [], phase: mix32(h) % Math.max(1, s.rotateSec) });
    }
  }

  service(name: string): Service {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no service named ${name}`);
    return s;
  }

  /** A fleet-wide endpoint move: `name` answers a new set of addresses from time `at` on. */
  move(name: string, at: number): number[] {
    const s = this.service(name);
    s.movedAt = at;
    s.movedPool = this.fill(s.block, s.poolSize, strHash(s.name) ^ this.seed ^ 0x6d6f7665);
    return s.movedPool;
  }

  /** What the resolver answers for `name` at time t (µs). */
  resolve(name: string, t: number): Resolution {
    const s = this.service(name);
    const pool = t >= s.movedAt ? s.movedPool : s.pool;
    const w = s.rotateSec > 0 ? Math.floor((t / 1e6 + s.phase) / s.rotateSec) : 0;
    const start = mix32(strHash(name) ^ w) % pool.length;
    const addrs: number[] = [];
    for (let i = 0; i < Math.min(s.perAnswer, pool.length); i++) addrs.push(pool[(start + i) % pool.length]);
    return { cname: s.cname ?? null, addrs, ttl: s.ttl };
  }

  /** The start (µs) of each rotation window of `name` in [from, to): when it answers new addresses. */
  rotations(name: string, from: number, to: number): number[] {
    const s = this.service(name);
    if (s.rotateSec === 0) return [];
    const out: number[] = [];
    const first = Math.ceil((from / 1e6 + s.phase) / s.rotateSec);
    for (let w = first; (w * s.rotateSec - s.phase) * 1e6 < to; w++) out.push((w * s.rotateSec - s.phase) * 1e6);
    return out;
  }

  /** An address in `block` that no service uses (a C2 server, an exfiltration drop, a flood victim). */
  fresh(r: Rand, block: Block = ATTACKER_BLOCKS): number {
    for (;;) {
      const a = addressIn(block, r.u32());
      if (!this.used.has(a)) { this.used.add(a); return a; }
    }
  }

  /** Is this address one of the fleet's services'? */
  isService(addr: number): boolean {
    return this.used.has(addr);
  }

  private fill(block: Block, n: number, h: number): number[] {
    const pool: number[] = [];
    for (let i = 0; pool.length < n; i++) {
      const a = addressIn(block, mix32(h + i * 0x9e3779b9));
      if (this.used.has(a)) continue;
      this.used.add(a);
      pool.push(a);
    }
    return pool;
  }
}

const SKIP_8 = new Uint8Array(256);
for (const o of [0, 3, 6, 7, 10, 11, 15, 21, 22, 26, 28, 29, 30, 33, 55, 56, 127, 214, 215]) SKIP_8[o] = 1;

/** A uniformly random routable public IPv4 address, as Mirai's get_random_ip() draws scan targets
 *  (skipping 0/8, 10/8, 127/8, 100.64/10, 169.254/16, 172.16/12, 192.168/16, 198.18/15, 224/3 and the
 *  US DoD and other /8s Mirai avoided: 3, 6, 7, 11, 15, 21, 22, 26, 28, 29, 30, 33, 55, 56, 214, 215). */
export function randomPublicAddress(r: Rand, cloud: Cloud): number {
  for (;;) {
    const a = r.u32();
    const o1 = a >>> 24, o2 = (a >>> 16) & 255;
    if (o1 >= 224 || SKIP_8[o1]) continue;
    if ((o1 === 100 && o2 >= 64 && o2 < 128) || (o1 === 169 && o2 === 254) || (o1 === 172 && o2 >= 16 && o2 < 32)
      || (o1 === 192 && o2 === 168) || (o1 === 198 && (o2 === 18 || o2 === 19))) continue;
    if (cloud.isService(a)) continue;
    return a;
  }
}
