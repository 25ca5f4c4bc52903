// Groups, and tapwatch's configuration of a group (quarantine, redirect gateway).

import { randomUUID } from 'node:crypto';
import type { CreateGroupBody, Group, GroupTapwatchConfig } from '../../contracts/control-api.js';
import { AddressError, parseAddress, unroutableReason } from '../../net/address.js';
import { fromRow, statements, type ChangeContext, type StoreContext } from './context.js';
import { StoreError } from './errors.js';

interface GroupRow {
  group_id: string;
  tags: string;
  configuration: string;
  created_time: number;
  last_modified_time: number;
}

export class Groups {
  private readonly s;

  constructor(private readonly c: StoreContext) {
    this.s = statements(c.db, {
      get: 'SELECT * FROM groups WHERE group_id = ?',
      list: 'SELECT * FROM groups ORDER BY group_id',
      insert: 'INSERT INTO groups (group_id, tags, configuration, created_time, last_modified_time) VALUES (?, ?, ?, ?, ?)',
      delete: 'DELETE FROM groups WHERE group_id = ?',
      members: 'SELECT count(*) AS n FROM subscribers WHERE group_id = ?',
      setConfiguration: 'UPDATE groups SET configuration = ?, last_modified_time = ? WHERE group_id = ?',
    });
  }

  get(groupId: string): Group | null {
    const row = this.s.get.get(groupId) as GroupRow | undefined;
    return row ? this.toGroup(row) : null;
  }

  exists(groupId: string): boolean {
    return this.s.get.get(groupId) !== undefined;
  }

  list(): Group[] {
    return (this.s.list.all() as GroupRow[]).map((r) => this.toGroup(r));
  }

  create(spec: CreateGroupBody, ctx: ChangeContext): Group {
    return this.c.db.transaction(() => {
      const groupId = spec.groupId ?? randomUUID();
      if (this.exists(groupId)) throw new StoreError('group-exists', `A group with groupId ${groupId} exists`);
      return this.insert(groupId, spec.tags ?? {}, ctx);
    })();
  }

  /** Inside the caller's transaction (create, import). */
  insert(groupId: string, tags: Record<string, string>, ctx: ChangeContext): Group {
    const now = this.c.now();
    const group: Group = { groupId, operatorId: this.c.operatorId, tags, configuration: {}, createdTime: now, lastModifiedTime: now };
    this.s.insert.run(groupId, JSON.stringify(tags), '{}', now, now);
    this.c.audit(ctx, 'create_group', 'group', groupId, null, group);
    return group;
  }

  /** Only an empty group can go: deleting one with members would move them without an action. */
  delete(groupId: string, ctx: ChangeContext): void {
    this.c.db.transaction(() => {
      const before = this.get(groupId);
      if (!before) throw new StoreError('group-not-found', `No such group: ${groupId}`);
      const members = (this.s.members.get(groupId) as { n: number }).n;
      if (members > 0) throw new StoreError('group-not-empty', `The group still has ${members} subscriber(s): move them first`);
      this.s.delete.run(groupId);
      this.c.audit(ctx, 'delete_group', 'group', groupId, before, null);
    })();
  }

  /** The redirect gateway is stored canonical (net/address.ts) and must be able to be a next hop. */
  setTapwatchConfiguration(groupId: string, config: GroupTapwatchConfig, ctx: ChangeContext): Group {
    const tapwatch = { quarantine: config.quarantine, redirectGateway: config.redirectGateway === null ? null : gateway(config.redirectGateway) };
    return this.c.db.transaction(() => {
      const before = this.get(groupId);
      if (!before) throw new StoreError('group-not-found', `No such group: ${groupId}`);
      const after: Group = { ...before, configuration: { ...before.configuration, tapwatch }, lastModifiedTime: this.c.now() };
      this.s.setConfiguration.run(JSON.stringify(after.configuration), after.lastModifiedTime, groupId);
      this.c.audit(ctx, 'set_group_configuration', 'group', groupId, before, after);
      return after;
    })();
  }

  private toGroup(r: GroupRow): Group {
    return fromRow(r, ['tags', 'configuration'], { operatorId: this.c.operatorId });
  }
}

function gateway(text: string): string {
  const a = parseAddress(text);
  if (a instanceof AddressError) throw new StoreError('invalid-configuration', `redirectGateway: ${a.message}`);
  const why = unroutableReason(a);
  if (why) throw new StoreError('invalid-configuration', `redirectGateway: ${a.text} is ${why}, which cannot be a next hop`);
  return a.text;
}
