// Retention of the daily inspection indices: deletes whole indices past a number of days, by name. The test node's
// distribution has no ILM (ELASTICSEARCH.md), and deleting a daily index needs no _delete_by_query.
//
// An index is deleted only when all of these hold, so nothing that is not tapwatch's, and nothing recent, goes:
//   - its name is tapwatch-inspection-[namespace-]YYYY.MM.DD with a real date (inspectionIndex() makes these);
//   - its mapping carries tapwatch's _meta (templates.ts MANAGED_BY), i.e. it was made from tapwatch's template;
//   - its day ended more than N days ago: it holds no traffic younger than N days;
//   - it was created more than N days ago: a capture of old traffic replayed today (the demo, a forensic replay)
//     stays N days, instead of disappearing at the next check because its traffic is old.

import type { Client } from '@elastic/elasticsearch';
import { INSPECTION_INDEX_PREFIX, MANAGED_BY } from './templates.js';

const DAY_MS = 86_400_000;
/** How often a running indexer checks: daily indices age by the day, an hour late is soon enough. */
export const RETENTION_CHECK_MS = 3_600_000;
export const DEFAULT_RETENTION_DAYS = 30;

export interface RetentionOptions {
  /** Days of traffic to keep (≥ 1). */
  days: number;
  /** Only the indices of this namespace (inspectionIndex's), e.g. a test's; default every tapwatch inspection index. */
  namespace?: string;
  /** The clock; default now. */
  now?: Date;
}

export interface RetentionResult {
  deleted: string[];
  /** Indices under the pattern that retention leaves alone whatever their age, and why. */
  notOwned: { index: string; why: string }[];
  /** The newest day deleted indices may hold: a day ending at or before this instant. */
  cutoff: string;
}

const pattern = (namespace?: string) => `${INSPECTION_INDEX_PREFIX}${namespace ? `${namespace}-` : ''}*`;

/** The UTC day an inspection index holds, from its name; null when the name is not one inspectionIndex() makes. */
export function indexDay(index: string, namespace?: string): Date | null {
  const prefix = `${INSPECTION_INDEX_PREFIX}${namespace ? `${namespace}-` : ''}`;
  if (!index.startsWith(prefix)) return null;
  // Without a namespace given, any namespace inspectionIndex() may have put before the date.
  const shape = namespace === undefined ? /^(?:[a-z0-9][a-z0-9_-]*-)?(\d{4})\.(\d{2})\.(\d{2})$/ : /^(\d{4})\.(\d{2})\.(\d{2})$/;
  const m = shape.exec(index.slice(prefix.length));
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  // Rejects 2026.02.31 and the like, which Date.UTC would roll over into March.
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d ? day : null;
}

/** Deletes the inspection indices past `days` (see the rules above) and says what it deleted and what it spared. */
export async function applyRetention(client: Client, o: RetentionOptions): Promise<RetentionResult> {
  if (!Number.isInteger(o.days) || o.days < 1) throw new RangeError(`retention days must be an integer ≥ 1, got ${o.days}`);
  const now = (o.now ?? new Date()).getTime();
  const cutoff = now - o.days * DAY_MS;
  const res = await client.indices.get({
    index: pattern(o.namespace),
    allow_no_indices: true,
    ignore_unavailable: true,
    expand_wildcards: 'open',
    filter_path: ['*.settings.index.creation_date', '*.mappings._meta'],
  });
  const deleted: string[] = [];
  const notOwned: RetentionResult['notOwned'] = [];
  for (const [index, state] of Object.entries(res ?? {})) {
    const day = indexDay(index, o.namespace);
    const meta = state.mappings?._meta as Record<string, unknown> | undefined;
    if (day === null) notOwned.push({ index, why: 'not a daily inspection index name' });
    else if (meta?.managed_by !== MANAGED_BY.managed_by) notOwned.push({ index, why: 'not made from the tapwatch template (no _meta.managed_by: tapwatch)' });
    else if (day.getTime() + DAY_MS <= cutoff && Number(state.settings?.index?.creation_date) <= cutoff) deleted.push(index);
  }
  // By name: a wildcard delete is refused by default (action.destructive_requires_name), and should be.
  if (deleted.length) await client.indices.delete({ index: deleted.sort(), ignore_unavailable: true });
  return { deleted, notOwned, cutoff: new Date(cutoff).toISOString() };
}

export interface RetentionLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Applies retention now and then every `everyMs` until stopped. A check that fails (the node is away) is logged and
 * left to the next one; `onCheck` hears of each check that succeeded.
 */
export function scheduleRetention(
  client: Client,
  o: { days: number; namespace?: string; everyMs?: number; log: RetentionLog; onCheck?: (r: RetentionResult) => void; clock?: () => Date },
) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<void> => {
    try {
      const r = await applyRetention(client, { days: o.days, namespace: o.namespace, now: o.clock?.() });
      o.log.info({ days: o.days, cutoff: r.cutoff, deleted: r.deleted, spared: r.notOwned.length }, r.deleted.length ? 'retention: deleted daily indices past it' : 'retention: nothing to delete');
      o.onCheck?.(r);
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, 'retention check failed; trying again at the next one');
    }
    if (!stopped) timer = setTimeout(check, o.everyMs ?? RETENTION_CHECK_MS).unref();
  };
  const first = check();
  return {
    /** The first check, done at start. */
    first,
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
