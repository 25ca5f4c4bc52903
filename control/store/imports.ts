// The device registry into subscribers: created, or refreshed in identity (IMEI, IP, name) but never
// in what actions set (status, speed class, group: a re-import must not undo a block). A subscriber it
// creates is active, unthrottled and in the registry's group, defaults that nobody decided: it owns
// none of them (migrations.ts, version 3), so the upstream enforcer does not push them. Creates the
// groups the registry names. All or nothing: one bad row rejects the import. The rows are checked
// by the inventory's own checks (canonical addresses, no duplicates, no formulas, group ids the API
// accepts), whoever parsed them.

import { UNTHROTTLED_SPEED_CLASS, type ImportResult, type Subscriber } from '../../contracts/control-api.js';
import { checkInventoryRows, InventoryError, type InventoryRow } from '../../inventory/inventory.js';
import type { ChangeContext, StoreContext } from './context.js';
import { StoreError } from './errors.js';
import type { Groups } from './groups.js';
import type { Subscribers } from './subscribers.js';

export function importDevices(c: StoreContext, subscribers: Subscribers, groups: Groups, input: readonly InventoryRow[], ctx: ChangeContext): ImportResult {
  let rows: InventoryRow[];
  try {
    rows = checkInventoryRows(input, 'import', { requireImsi: true });
  } catch (err) {
    if (err instanceof InventoryError) throw new StoreError('invalid-registry', err.message);
    throw err;
  }
  return c.db.transaction(() => {
    const result: ImportResult = { created: 0, updated: 0, unchanged: 0, groupsCreated: 0 };
    const now = c.now();
    for (const r of rows) {
      if (r.group && !groups.exists(r.group)) {
        groups.insert(r.group, { name: r.group }, ctx);
        result.groupsCreated++;
      }
      const before = subscribers.get(r.imsi!);
      if (!before) {
        const created: Subscriber = {
          imsi: r.imsi!,
          imei: r.imei ?? null,
          ipAddress: r.ip,
          status: 'active',
          speedClass: UNTHROTTLED_SPEED_CLASS,
          groupId: r.group ?? null,
          operatorId: c.operatorId,
          tags: { name: r.id },
          createdTime: now,
          lastModifiedTime: now,
        };
        subscribers.insert(created);
        c.audit(ctx, 'import', 'subscriber', created.imsi, null, created);
        result.created++;
        continue;
      }
      const after: Subscriber = { ...before, imei: r.imei ?? before.imei, ipAddress: r.ip, tags: { ...before.tags, name: r.id } };
      if (after.imei === before.imei && after.ipAddress === before.ipAddress && after.tags.name === before.tags.name) {
        result.unchanged++;
        continue;
      }
      after.lastModifiedTime = now;
      subscribers.setIdentity(after);
      c.audit(ctx, 'import', 'subscriber', after.imsi, before, after);
      result.updated++;
    }
    return result;
  })();
}
