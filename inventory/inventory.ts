// The device inventory: IP → device id, IMSI, IMEI, group. A CSV file with a header row naming the
// columns (ip is required; id, imsi, imei, group are optional) or a JSON array of such objects. The
// collector loads it at start and on SIGHUP (an unknown device is keyed by its IP); the control API
// imports the same format as subscribers. One parser and one set of checks for both:
//
//   - CSV is parsed by csv-parse (quoted fields, a BOM, CRLF line ends, '#' comment lines);
//   - every address is put in canonical form (net/address.ts), so the collector's lookup, the
//     responder's allowlist and the enforcers all see one text per device; an ambiguous one
//     (010.128.0.1) is refused naming its line;
//   - an address or IMSI given twice is refused naming both lines (the last one no longer wins silently);
//   - a cell starting with = + - @ (or a tab or CR) is refused: a registry exported to a spreadsheet
//     must not carry formulas (CWE-1236);
//   - a group id must match the API's pattern, or the import would create a group the API cannot name.

import { readFileSync } from 'node:fs';
import { parse as parseCsvText } from 'csv-parse/sync';
import { GROUP_ID_PATTERN, IMSI_PATTERN } from '../contracts/identifiers.js';
import type { ErrorCode } from '../contracts/errors.js';
import { canonicalOrNull, parseAddress, AddressError } from '../net/address.js';

export interface InventoryEntry {
  id: string;
  imsi?: string;
  imei?: string;
  group?: string;
}

/** An inventory entry with the IP it is keyed by (what the control API imports as a subscriber). */
export interface InventoryRow extends InventoryEntry {
  /** Canonical text (net/address.ts). */
  ip: string;
  /** Where the row came from, for messages: 'line 3' of a CSV file, 'entry 2' of a JSON array. */
  at?: string;
}

export class InventoryError extends Error {
  readonly code: ErrorCode = 'TWI0001';
}

const COLUMNS = ['ip', 'id', 'imsi', 'imei', 'group'] as const;
type Column = (typeof COLUMNS)[number];
type RawRow = Partial<Record<Column, string>>;

const FORMULA_START = /^[=+\-@\t\r]/;
const IMSI = new RegExp(IMSI_PATTERN);
const GROUP_ID = new RegExp(GROUP_ID_PATTERN);

export class Inventory {
  private constructor(private readonly byIp: Map<string, InventoryEntry>, readonly source: string | null) {}

  static empty(): Inventory {
    return new Inventory(new Map(), null);
  }

  static load(path: string): Inventory {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new InventoryError(`inventory ${path}: ${(e as Error).message}`);
    }
    return new Inventory(new Map(parseInventory(text, path).map(({ ip, at: _at, ...entry }) => [ip, entry])), path);
  }

  get size(): number {
    return this.byIp.size;
  }

  /** The entry of an address in any spelling: the collector passes canonical text, which hits at once. */
  lookup(ip: string): InventoryEntry | undefined {
    const hit = this.byIp.get(ip);
    if (hit) return hit;
    const canonical = canonicalOrNull(ip);
    return canonical === null || canonical === ip ? undefined : this.byIp.get(canonical);
  }
}

/** Rows of a CSV text or a JSON array text (told apart by a leading '['), checked; `source` names the
 *  input in errors (a path, or "request body"). */
export function parseInventory(text: string, source: string, opts: CheckOptions = {}): InventoryRow[] {
  if (!text.replace(/^\uFEFF/, '').trimStart().startsWith('[')) return checkRows(parseCsv(text, source), source, opts);
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new InventoryError(`inventory ${source}: malformed JSON: ${(e as Error).message}`);
  }
  return inventoryFromJson(data, source, opts);
}

/** The same rows from an already parsed JSON value (the control API's JSON request body). */
export function inventoryFromJson(data: unknown, source: string, opts: CheckOptions = {}): InventoryRow[] {
  if (!Array.isArray(data)) throw new InventoryError(`inventory ${source}: expected a JSON array of {ip, id, imsi, imei, group}`);
  const rows = data.map((d, i): [string, RawRow] => {
    const at = `entry ${i + 1}`;
    if (d === null || typeof d !== 'object') throw new InventoryError(`inventory ${source}: ${at} is not an object`);
    const row: RawRow = {};
    for (const k of COLUMNS) {
      const v = (d as Record<string, unknown>)[k];
      if (v !== undefined && v !== null) row[k] = String(v);
    }
    return [at, row];
  });
  return checkRows(rows, source, opts);
}

export interface CheckOptions {
  /** Every row needs an IMSI (the control API addresses subscribers by it). */
  requireImsi?: boolean;
}

/** Rows given as objects (in-process callers of the store's import): checked as a file's would be. */
export function checkInventoryRows(rows: readonly InventoryRow[], source: string, opts: CheckOptions = {}): InventoryRow[] {
  return checkRows(
    rows.map((r, i) => [r.at ?? `entry ${i + 1}`, Object.fromEntries(COLUMNS.filter((k) => r[k] !== undefined).map((k) => [k, String(r[k])])) as RawRow]),
    source,
    opts,
  );
}

function parseCsv(text: string, source: string): Array<[string, RawRow]> {
  let records: Array<{ record: Record<string, string>; info: { lines: number } }>;
  let header: string[] = [];
  try {
    records = parseCsvText(text, {
      bom: true,
      comment: '#',
      comment_no_infix: true, // '#' starts a comment only at the start of a line: 'meter #3' is an id
      skip_empty_lines: true,
      trim: true,
      info: true,
      columns: (names: string[]) => (header = names.map((h) => h.trim().toLowerCase())),
    }) as typeof records;
  } catch (e) {
    const err = e as Error & { code?: string; lines?: number };
    const detail = err.code === 'CSV_RECORD_INCONSISTENT_COLUMNS' ? `line ${err.lines} has a different number of cells than the header` : err.message;
    throw new InventoryError(`inventory ${source}: ${detail}`);
  }
  if (records.length === 0 && header.length === 0) return [];
  if (!header.includes('ip')) throw new InventoryError(`inventory ${source}: the CSV header must name an 'ip' column (got: ${header.join(',')})`);
  return records.map(({ record, info }) => {
    const row: RawRow = {};
    for (const k of COLUMNS) if (record[k] !== undefined && record[k] !== '') row[k] = record[k];
    return [`line ${info.lines}`, row];
  });
}

function checkRows(rows: Array<[string, RawRow]>, source: string, opts: CheckOptions): InventoryRow[] {
  const fail = (at: string, why: string): never => {
    throw new InventoryError(`inventory ${source}: ${at}: ${why}`);
  };
  const byIp = new Map<string, string>();
  const byImsi = new Map<string, string>();
  return rows.map(([at, r]) => {
    for (const k of COLUMNS) {
      const v = r[k]?.trim();
      if (v && FORMULA_START.test(v)) fail(at, `the ${k} cell '${v}' starts with '${JSON.stringify(v[0]).slice(1, -1)}': spreadsheet formulas are refused`);
    }
    const raw = r.ip?.trim();
    if (!raw) return fail(at, 'no ip');
    const addr = parseAddress(raw);
    if (addr instanceof AddressError) return fail(at, addr.message);
    const ip = addr.text;
    const row: InventoryRow = { ip, id: r.id?.trim() || ip, at };
    for (const k of ['imsi', 'imei', 'group'] as const) if (r[k]?.trim()) row[k] = r[k]!.trim();
    if (row.imsi !== undefined && !IMSI.test(row.imsi)) fail(at, `imsi must be 5 to 15 digits, got '${row.imsi}'`);
    if (row.imsi === undefined && opts.requireImsi) fail(`${at} (ip ${ip})`, 'no imsi (the control API addresses subscribers by it)');
    if (row.group !== undefined && !GROUP_ID.test(row.group)) fail(at, `group '${row.group}' is not a group id (1 to 64 of A-Z a-z 0-9 . _ -)`);
    const sameIp = byIp.get(ip);
    if (sameIp) fail(at, `ip ${ip} is given again${raw !== ip ? ` (as ${raw})` : ''}; first on ${sameIp}`);
    byIp.set(ip, at);
    if (row.imsi !== undefined) {
      const sameImsi = byImsi.get(row.imsi);
      if (sameImsi) fail(at, `imsi ${row.imsi} is given again; first on ${sameImsi}`);
      byImsi.set(row.imsi, at);
    }
    return row;
  });
}
