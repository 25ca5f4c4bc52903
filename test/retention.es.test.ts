// Retention of the daily inspection indices (indexer/retention.ts, `tapwatch index --retention-days N`) on the real
// node: exactly the indices past N days go, by their day and by their creation, and never one that is not
// tapwatch's. Each test works in a namespace of its own (inspectionIndex's), so the node's other indices are safe.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { InspectionRecord } from '../contracts/inspection-record.js';
import { inspectionIndex } from '../indexer/documents.js';
import { applyRetention, indexDay, scheduleRetention, type RetentionResult } from '../indexer/retention.js';
import { installTemplates } from '../indexer/templates.js';
import { CLI, CliProcess } from './helpers/cli-process.js';
import { bulkRecords, collect, root } from './helpers/es-fixtures.js';
import { until } from './helpers/until.js';

const DAY = 86_400_000;
const run = `r${Date.now().toString(36)}${process.pid}`;
let client: Client;
let record: InspectionRecord;

beforeAll(async () => {
  client = new Client({ node: inject('elasticsearchUrl') });
  await installTemplates(client);
  record = collect(join(root, 'fixtures', 'demo', 'fleet-mirror.pcap'), 60)[0];
});

afterAll(async () => {
  const left = await client.cat.indices({ index: `*${run}*`, format: 'json', h: 'index' });
  if (left.length) await client.indices.delete({ index: left.map((i) => i.index!) });
  await client.close();
});

/** What the indexer does with a record of that day: its document, in the daily index inspectionIndex() picks. */
async function indexDayOf(day: Date, namespace: string): Promise<string> {
  const start = new Date(day.getTime() + 3_600_000).toISOString();
  const r = { ...record, interval: { ...record.interval, start, end: new Date(Date.parse(start) + 60_000).toISOString() } };
  const [item] = await bulkRecords(client, 'index', [r], namespace);
  expect(item.error).toBeUndefined();
  return inspectionIndex(r, namespace);
}

const indicesOf = async (namespace: string) =>
  (await client.cat.indices({ index: `*${namespace}*`, format: 'json', h: 'index' })).map((i) => i.index!).sort();

const midnight = (t: number) => Math.floor(t / DAY) * DAY;
const spawnHelp = (command: string) => execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });

describe('applyRetention', () => {
  it('deletes exactly the daily indices whose day ended and which were created more than N days ago, and none that is not tapwatch`s', async () => {
    const ns = `${run}-a`;
    // A clock 31 days on, so that indices created now count as 31 days old; the cutoff falls at noon.
    const now = new Date(midnight(Date.now()) + 31 * DAY + 12 * 3_600_000);
    const cutoff = now.getTime() - 30 * DAY;
    const old = await indexDayOf(new Date(Date.UTC(2020, 0, 1)), ns);
    const endsBeforeCutoff = await indexDayOf(new Date(midnight(cutoff) - DAY), ns); // ended 12 h before the cutoff
    const holdsCutoff = await indexDayOf(new Date(midnight(cutoff)), ns); // ends 12 h after it: traffic younger than 30 days
    const recent = await indexDayOf(new Date(midnight(now.getTime()) - 2 * DAY), ns);
    // Indices under the pattern that are not tapwatch's daily indices, however old their names say they are.
    const someoneElses = `tapwatch-inspection-${ns}-2020.01.02`;
    await client.indices.create({ index: someoneElses, mappings: { _meta: { managed_by: 'someone-else' } } });
    const notADay = `tapwatch-inspection-${ns}-archive`;
    const noSuchDay = `tapwatch-inspection-${ns}-2020.02.30`;
    await client.indices.create({ index: notADay });
    await client.indices.create({ index: noSuchDay });
    const outside = `other-${ns}-2020.01.01`;
    await client.indices.create({ index: outside });
    const all = await indicesOf(ns);
    expect(all).toHaveLength(8);

    const r = await applyRetention(client, { days: 30, namespace: ns, now });
    expect(r.deleted.sort()).toEqual([old, endsBeforeCutoff].sort());
    expect(r.cutoff).toBe(new Date(cutoff).toISOString());
    expect(r.notOwned.map((n) => [n.index, n.why]).sort()).toEqual(
      [
        [notADay, 'not a daily inspection index name'],
        [noSuchDay, 'not a daily inspection index name'],
        [someoneElses, 'not made from the tapwatch template (no _meta.managed_by: tapwatch)'],
      ].sort(),
    );
    expect(await indicesOf(ns)).toEqual(all.filter((i) => i !== old && i !== endsBeforeCutoff));
    expect(await indicesOf(ns)).toEqual(expect.arrayContaining([holdsCutoff, recent, someoneElses, notADay, noSuchDay, outside]));
    // Again: nothing more goes.
    expect((await applyRetention(client, { days: 30, namespace: ns, now })).deleted).toEqual([]);
  });

  it('keeps an old day`s index created within N days: a capture of old traffic replayed today stays N days', async () => {
    const ns = `${run}-b`;
    const old = await indexDayOf(new Date(Date.UTC(2026, 0, 1)), ns);
    expect((await applyRetention(client, { days: 30, namespace: ns })).deleted).toEqual([]);
    expect((await applyRetention(client, { days: 1, namespace: ns, now: new Date(Date.now() + 0.9 * DAY) })).deleted).toEqual([]);
    expect((await applyRetention(client, { days: 1, namespace: ns, now: new Date(Date.now() + 1.1 * DAY) })).deleted).toEqual([old]);
  });

  it('refuses a retention of less than a day', async () => {
    await expect(applyRetention(client, { days: 0 })).rejects.toThrow(/retention days must be an integer ≥ 1, got 0/);
  });
});

describe('indexDay', () => {
  it('reads the day inspectionIndex() put in the name, with or without a namespace, and nothing else', () => {
    const r = { ...record, interval: { ...record.interval, start: '2026-03-04T05:06:07.000Z' } };
    expect(indexDay(inspectionIndex(r))?.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    expect(indexDay(inspectionIndex(r, 'staging'))?.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    expect(indexDay(inspectionIndex(r, 'staging'), 'staging')?.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    expect(indexDay(inspectionIndex(r, 'staging'), 'prod')).toBeNull();
    for (const name of ['tapwatch-inspection-2026.13.01', 'tapwatch-inspection-2026.1.01', 'tapwatch-inspection-2026.01.01-old', 'tapwatch-anomalies', 'x-tapwatch-inspection-2026.01.01']) expect(indexDay(name), name).toBeNull();
  });
});

describe('on start and then periodically', () => {
  it('scheduleRetention checks at once, then again every period, deleting what has aged since', async () => {
    const ns = `${run}-c`;
    const first = await indexDayOf(new Date(Date.UTC(2020, 0, 1)), ns);
    const checks: RetentionResult[] = [];
    const lines: string[] = [];
    const log = { info: (_o: object, msg: string) => lines.push(msg), warn: (_o: object, msg: string) => lines.push(msg) };
    // The clock runs 31 days ahead, so that indices created now count as old, except while the test writes one
    // (a check then would delete the index between its creation and its first document).
    let ahead = 31 * DAY;
    const schedule = scheduleRetention(client, { days: 30, namespace: ns, everyMs: 200, log, onCheck: (r) => checks.push(r), clock: () => new Date(Date.now() + ahead) });
    try {
      await schedule.first;
      expect(checks.map((c) => c.deleted)).toEqual([[first]]);
      expect(lines).toEqual(['retention: deleted daily indices past it']);
      // An index that appears after the first check goes at a later one.
      ahead = 0;
      const second = await indexDayOf(new Date(Date.UTC(2020, 0, 2)), ns);
      const before = checks.length;
      ahead = 31 * DAY;
      await until(`a later check to delete ${second}`, () => checks.slice(before).some((c) => c.deleted.includes(second)), { timeoutMs: 30_000 });
      expect(await indicesOf(ns)).toEqual([]);
    } finally {
      schedule.stop();
    }
  });
});

describe('tapwatch index --retention-days', () => {
  /** A port nobody listens on: the indexer cannot reach Kafka, and retention runs before it tries. */
  async function closedPort(): Promise<number> {
    const s = createServer();
    const port = await new Promise<number>((ok) => s.listen(0, '127.0.0.1', () => ok((s.address() as { port: number }).port)));
    await new Promise((closed) => s.close(closed));
    return port;
  }

  it('checks retention at start, before Kafka, with the days given (default 30), and not at all with 0', async () => {
    const kafka = `127.0.0.1:${await closedPort()}`;
    // 100 years: on any node, this check can find nothing to delete. The default, 30 days, is run only on the node
    // this test run started (ELASTICSEARCH_URL unset), where nothing is that old: not on someone's node with data.
    const runs: [string[], number][] = [[['--retention-days', '36500'], 36_500]];
    if (!process.env.ELASTICSEARCH_URL) runs.push([[], 30]);
    expect(spawnHelp('index')).toMatch(/--retention-days <value>\s+days of inspection indices to keep \(default 30;/);
    for (const [args, days] of runs) {
      const p = new CliProcess('index', ['index', '--kafka', kafka, '--elasticsearch', inject('elasticsearchUrl'), ...args]);
      try {
        const line = await p.waitForLog('its retention check', (l) => typeof l.msg === 'string' && l.msg.startsWith('retention:'));
        expect(line.days).toBe(days);
        expect(Math.abs(Date.parse(line.cutoff as string) - (Date.now() - days * DAY))).toBeLessThan(120_000);
        // Before the consumer: the indexer has not said it is indexing (it cannot, Kafka being unreachable).
        expect(p.logs().filter((l) => l.msg === 'indexing')).toEqual([]);
      } finally {
        await p.stop();
      }
    }
    const off = new CliProcess('index', ['index', '--kafka', kafka, '--elasticsearch', inject('elasticsearchUrl'), '--retention-days', '0']);
    try {
      await off.waitForLog('that retention is off', (l) => l.msg === 'retention off (--retention-days 0): daily indices are kept');
      expect(off.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('retention:'))).toEqual([]);
    } finally {
      await off.stop();
    }
  });

  it('refuses a number of days that is not a whole number from 0', async () => {
    for (const bad of ['-1', '1.5', 'thirty']) {
      const p = new CliProcess('index', ['index', '--kafka', '127.0.0.1:1', '--elasticsearch', 'http://127.0.0.1:1', `--retention-days=${bad}`]);
      expect(await p.exited, bad).toBe(2);
      expect(p.stderr).toContain(`--retention-days: expected an integer from 0 to 36500, got '${bad}'`);
    }
  });
});
