// The device inventory: IP → device id, IMSI, IMEI, group. A CSV file with a header row naming the
// columns (ip is required; id, imsi, imei, group are optional) or a JSON array of such objects.
// Loaded at start and again on SIGHUP; an unknown device is keyed by its IP.

import { readFileSync } from 'node:fs';
import type { ErrorCode } from '../contracts/errors.js';

export interface InventoryEntry {
  id: string;
  imsi?: string;
  imei?: string;
  group?: string;
}

/** An inventory entry with the IP it is keyed by (what the control API imports as a subscriber). */
export interface InventoryRow extends InventoryEntry {
  ip: string;
}

export class InventoryError extends Error {
  readonly code: ErrorCode = 'TWI0001';
}

const COLUMNS = ['ip', 'id', 'imsi', 'imei', 'group'] as const;

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
    return new Inventory(new Map(parseInventory(text, path).map(({ ip, ...entry }) => [ip, entry])), path);
  }

  get size(): number {
    return this.byIp.size;
  }

  lookup(ip: string): InventoryEntry | undefined {
    return this.byIp.get(ip);
  }
}

type Row = Partial<Record<(typeof COLUMNS)[number], string>>;

/** Rows of a CSV text or a JSON array text (told apart by a leading '['), checked and trimmed;
 *  `source` names the input in errors (a path, or "request body"). */
export function parseInventory(text: string, source: string): InventoryRow[] {
  if (!text.trimStart().startsWith('[')) return inventoryRows(parseCsv(source, text), source);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InventoryError(`inventory ${source}: malformed JSON: ${(e as Error).message}`);
  }
  return inventoryFromJson(data, source);
}

/** The same rows from an already parsed JSON value (the control API's JSON request body). */
export function inventoryFromJson(data: unknown, source: string): InventoryRow[] {
  if (!Array.isArray(data)) throw new InventoryError(`inventory ${source}: expected a JSON array of {ip, id, imsi, imei, group}`);
  return inventoryRows(jsonRows(source, data), source);
}

function inventoryRows(rows: Row[], source: string): InventoryRow[] {
  return rows.map((r, i) => {
    const ip = r.ip?.trim();
    if (!ip) throw new InventoryError(`inventory ${source}: entry ${i + 1} has no ip`);
    const row: InventoryRow = { ip, id: r.id?.trim() || ip };
    for (const k of ['imsi', 'imei', 'group'] as const) if (r[k]?.trim()) row[k] = r[k]!.trim();
    return row;
  });
}

function jsonRows(path: string, data: unknown[]): Row[] {
  return data.map((d, i) => {
    if (d === null || typeof d !== 'object') throw new InventoryError(`inventory ${path}: entry ${i + 1} is not an object`);
    const row: Row = {};
    for (const k of COLUMNS) {
      const v = (d as Record<string, unknown>)[k];
      if (v !== undefined && v !== null) row[k] = String(v);
    }
    return row;
  });
}

function parseCsv(path: string, text: string): Row[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  if (lines.length === 0) return [];
  const header = lines[0].split(',').map((h) => h.trim().toLowerCase());
  if (!header.includes('ip')) throw new InventoryError(`inventory ${path}: the CSV header must name an 'ip' column (got: ${lines[0]})`);
  return lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== header.length) throw new InventoryError(`inventory ${path}: line ${i + 2} has ${cells.length} cells, the header ${header.length}`);
    const row: Row = {};
    header.forEach((h, j) => {
      if ((COLUMNS as readonly string[]).includes(h)) row[h as (typeof COLUMNS)[number]] = cells[j];
    });
    return row;
  });
}
