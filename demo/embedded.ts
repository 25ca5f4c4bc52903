// The whole product in one process, on a bundled capture: replay → decap → per-device records →
// analyzer → response policy → control API (over real HTTP on loopback, with an analyzer key) →
// store and enforcer. No Kafka, no Elasticsearch: the in-process bus stands in for the topics.
// What each stage produced is returned for `tapwatch demo` to print.

import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createAnalyzer } from '../analyzer/analyzer.js';
import type { ActionEvent } from '../contracts/action-event.js';
import type { AnomalyEvent } from '../contracts/anomaly-event.js';
import { defaultPolicy, validatePolicy, type Policy } from '../responder/policy.js';
import { createResponder } from '../responder/responder.js';
import { Collector } from '../collector/collector.js';
import { DeviceNets } from '../collector/device-nets.js';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { Inventory, parseInventory } from '../inventory/inventory.js';
import { Pipeline } from '../collector/pipeline.js';
import { replayCapture } from '../collector/sources/replay.js';
import { RecordBus } from '../collector/sinks/bus.js';
import { SoracomClient } from '../control/client.js';
import type { AuditEntry, Enforcer, Subscriber } from '../control/model.js';
import { buildControlServer, type ControlServer } from '../control/server.js';
import type { ReaderStats } from '../gre-decap/readers/frame.js';
import type { DecapOptions } from '../gre-decap/decap.js';
import { DEMO_INTERVAL_SECONDS, demoAnalyzerConfig } from './config.js';

export const QUARANTINE_GROUP = 'quarantine';

export interface DemoOptions {
  capture: string;
  inventory: string;
  host: string;
  /** 0: any free port. */
  port: number;
  /** SQLite file for the control API, or ':memory:'. */
  db: string;
  /** Where the quarantine group's traffic is routed (the redirect gateway). */
  quarantineGateway: string;
  /** Device networks (CIDRs); default 10.128.0.0/9, as collect. */
  deviceNets?: string[];
  /** Addresses or CIDRs inside the device networks that are not devices (the site router). */
  excludeAddresses?: string[];
  /** Tunnel decoding (UDP ports, nesting depth); default as collect's. */
  decap?: DecapOptions;
  /** Default: the shipped policy with the quarantine group set. */
  policy?: Policy;
  enforcer?: Enforcer;
  log: Logger;
}

export interface DeviceSummary {
  id: string;
  ip: string;
  imsi?: string;
  packets: number;
  bytes: number;
  records: number;
}

export interface DemoReport {
  reader: ReaderStats;
  records: number;
  deviceNets: string[];
  /** Addresses inside them that are not devices. */
  excludedAddresses: string[];
  /** Frames with IP whose endpoints were both outside the device networks; while none matched, where they came from. */
  notDevice: { frames: number; busiestSourceNets: { net: string; frames: number }[] };
  devices: DeviceSummary[];
  tunnels: Record<string, number>;
  anomalies: AnomalyEvent[];
  actions: ActionEvent[];
  /** The subscribers the responder acted on, as the control API returns them afterwards. */
  acted: Subscriber[];
  audit: AuditEntry[];
  controlUrl: string;
}

export interface Demo {
  report: DemoReport;
  server: ControlServer;
  close(): Promise<void>;
}

export async function runDemo(o: DemoOptions): Promise<Demo> {
  const server = await buildControlServer({ db: o.db, enforcer: o.enforcer, log: o.log.child({ component: 'control' }) });
  try {
    await server.app.listen({ host: o.host, port: o.port });
    const address = server.app.server.address();
    const controlUrl = typeof address === 'object' && address ? `http://${o.host}:${address.port}` : String(address);

    // The operator's side: the device registry and a quarantine group, then a key for the analyzer.
    const local = { actor: 'local', reason: 'tapwatch demo set-up' };
    server.store.importDevices(parseInventory(readFileSync(o.inventory, 'utf8'), o.inventory), local);
    server.store.createGroup({ groupId: QUARANTINE_GROUP, tags: { name: 'Quarantine' } }, local);
    server.store.setGroupTapwatchConfiguration(QUARANTINE_GROUP, { quarantine: true, redirectGateway: o.quarantineGateway }, local);
    const key = server.store.createKey('analyzer', 'tapwatch demo responder', local);

    const actions: ActionEvent[] = [];
    const responder = createResponder({
      policy: o.policy ?? validatePolicy({ ...defaultPolicy(), quarantineGroupId: QUARANTINE_GROUP }),
      client: new SoracomClient({ baseUrl: controlUrl, ...key }),
      publish: (ev) => void actions.push(ev),
      log: o.log,
      actor: 'tapwatch-demo',
    });
    await responder.refreshFleet();

    const analyzer = createAnalyzer(demoAnalyzerConfig());
    const anomalies: AnomalyEvent[] = [];
    const devices = new Map<string, DeviceSummary>();
    let records = 0;
    const bus = new RecordBus();
    bus.subscribe(async (batch: InspectionRecord[]) => {
      for (const r of batch) {
        records++;
        const d = devices.get(r.device.id) ?? { id: r.device.id, ip: r.device.ip, imsi: r.device.imsi, packets: 0, bytes: 0, records: 0 };
        d.packets += r.uplink.packets + r.downlink.packets;
        d.bytes += r.uplink.bytes + r.downlink.bytes;
        d.records++;
        devices.set(d.id, d);
        for (const e of analyzer.process(r)) {
          anomalies.push(e);
          // The record clock, not the wall clock: cooldowns and the breaker see the capture's time.
          await responder.handle(e, new Date(r.interval.end));
        }
      }
    });

    const pipeline = new Pipeline(bus, o.log);
    const collector = new Collector({
      nets: new DeviceNets(o.deviceNets ?? ['10.128.0.0/9'], o.excludeAddresses ?? []),
      decap: o.decap,
      intervalSeconds: DEMO_INTERVAL_SECONDS,
      topK: 10,
      maxDevices: 65536,
      maxFlows: 1 << 16,
      maxDestinations: 1 << 16,
      clock: 'packet',
      source: `pcap:${o.capture}`,
      onBatch: (batch) => pipeline.enqueue(batch),
    });
    collector.inventory = Inventory.load(o.inventory);
    const reader = await replayCapture(o.capture, collector, pipeline, { speed: 0, stopRequested: () => false });
    await responder.idle();

    const actedImsis = [...new Set(actions.filter((a) => a.result === 'applied' && a.device.imsi).map((a) => a.device.imsi!))];
    const acted = actedImsis.map((imsi) => server.store.getSubscriber(imsi)).filter((s): s is Subscriber => s !== null);
    const audit = server.store.listAudit({ limit: 100 }).items.filter((e) => e.actor !== 'local');
    const tunnels = collector.tunnelCounts();
    const report: DemoReport = {
      reader, records, devices: [...devices.values()], tunnels, anomalies, actions, acted, audit, controlUrl,
      deviceNets: o.deviceNets ?? ['10.128.0.0/9'],
      excludedAddresses: o.excludeAddresses ?? [],
      notDevice: {
        frames: collector.agg.stats.notDevice,
        busiestSourceNets: collector.agg.stats.attributed === 0 ? collector.agg.foreignSources(5) : [],
      },
    };
    return { report, server, close: () => server.close() };
  } catch (err) {
    await server.close();
    throw err;
  }
}
