// The device registry as operators write it (spreadsheet exports: quoted fields, a BOM, CRLF) and as
// they get it wrong (an address twice, a formula, an ambiguous address): one parser for the collector
// and the control API, which names the line of every mistake.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Inventory, InventoryError, inventoryFromJson, parseInventory } from './inventory.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwatch-inventory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseInventory', () => {
  it('reads a spreadsheet export: BOM, CRLF, quoted fields with commas and quotes, comment and blank lines', () => {
    const text = '\uFEFFip,id,imsi,imei,group\r\n# the fleet\r\n"10.128.0.1","meter, ""north""",440100000000001,,meters\r\n\r\n10.128.0.2,meter #2,440100000000002,356938030000002,meters\r\n';
    expect(parseInventory(text, 'f.csv')).toEqual([
      { ip: '10.128.0.1', id: 'meter, "north"', imsi: '440100000000001', group: 'meters', at: 'line 3' },
      { ip: '10.128.0.2', id: 'meter #2', imsi: '440100000000002', imei: '356938030000002', group: 'meters', at: 'line 5' },
    ]);
  });

  it('stores every address in its canonical form', () => {
    const rows = parseInventory('ip,id\n::ffff:10.128.0.50,a\n2001:DB8:1::1,b\n2001:db8:1:0:0:0:0:a,c\n', 'f.csv');
    expect(rows.map((r) => r.ip)).toEqual(['10.128.0.50', '2001:db8:1::1', '2001:db8:1::a']);
    expect(rows.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(parseInventory('ip\n::FFFF:10.0.0.9\n', 'f.csv')[0]).toMatchObject({ ip: '10.0.0.9', id: '10.0.0.9' });
  });

  it('refuses each mistake naming the line (and, for a duplicate, both lines)', () => {
    const refused: Array<[string, RegExp]> = [
      ['ip,id\n010.128.0.1,a\n', /f\.csv: line 2: '010\.128\.0\.1' is not an IP address: the zero-padded part '010' is ambiguous/],
      ['ip,id\n10.128.0.1,a\n10.128.0.2,b\n::ffff:10.128.0.1,c\n', /line 4: ip 10\.128\.0\.1 is given again \(as ::ffff:10\.128\.0\.1\); first on line 2/],
      ['ip,id,imsi\n10.128.0.1,a,440100000000001\n10.128.0.2,b,440100000000001\n', /line 3: imsi 440100000000001 is given again; first on line 2/],
      ['ip,id\n10.128.0.1,"=cmd|""/c calc""!A1"\n', /line 2: the id cell '=cmd\|"\/c calc"!A1' starts with '=': spreadsheet formulas are refused/],
      ['ip,id\n10.128.0.1,+1+1\n', /starts with '\+'/],
      ['ip,id\n10.128.0.1,-2+3\n', /starts with '-'/],
      ['ip,id\n10.128.0.1,@SUM(A1)\n', /starts with '@'/],
      ['ip,group\n10.128.0.1,a/b\n', /line 2: group 'a\/b' is not a group id/],
      ['ip,imsi\n10.128.0.1,12ab\n', /line 2: imsi must be 5 to 15 digits, got '12ab'/],
      ['ip,id\n10.128.0.1\n', /line 2 has a different number of cells than the header/],
      ['ip,id\n"10.128.0.1,a\n', /Quote Not Closed/],
      ['id,group\nx,y\n', /'ip' column/],
      ['ip,id\n,a\n', /line 2: no ip/],
    ];
    for (const [text, why] of refused) {
      expect(() => parseInventory(text, 'f.csv'), text).toThrow(InventoryError);
      expect(() => parseInventory(text, 'f.csv'), text).toThrow(why);
    }
  });

  it('checks JSON arrays the same way, naming the entry', () => {
    expect(inventoryFromJson([{ ip: '2001:DB8::1', id: 7, imsi: 440100000000007 }], 'body')).toEqual([{ ip: '2001:db8::1', id: '7', imsi: '440100000000007', at: 'entry 1' }]);
    expect(() => inventoryFromJson([{ ip: '10.0.0.1' }, { ip: '10.0.0.01' }], 'body')).toThrow(/body: entry 2: '10\.0\.0\.01' is not an IP address/);
    expect(() => inventoryFromJson([{ ip: '10.0.0.1', id: '@x' }], 'body')).toThrow(/entry 1: the id cell '@x' starts with '@'/);
    expect(() => parseInventory('[{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}]', 'f.json')).toThrow(/entry 2: ip 10\.0\.0\.1 is given again; first on entry 1/);
    expect(() => inventoryFromJson([{ ip: '10.0.0.1' }], 'body', { requireImsi: true })).toThrow(/entry 1 \(ip 10\.0\.0\.1\): no imsi/);
  });
});

describe('Inventory (the collector\'s lookup)', () => {
  it('finds a device by any spelling of its address', () => {
    const path = join(dir, 'fleet.csv');
    writeFileSync(path, 'ip,id,imsi\n010.0.0.1,x,1\n'.replace('010.0.0.1,x,1\n', '10.128.0.1,meter-1,440100000000001\n2001:db8:1::1,meter-6,440100000000006\n'));
    const inv = Inventory.load(path);
    for (const ip of ['10.128.0.1', '::ffff:10.128.0.1', '::ffff:a80:1']) expect(inv.lookup(ip), ip).toEqual({ id: 'meter-1', imsi: '440100000000001' });
    for (const ip of ['2001:db8:1::1', '2001:DB8:1:0:0:0:0:1', '2001:0db8:0001::0001']) expect(inv.lookup(ip), ip).toEqual({ id: 'meter-6', imsi: '440100000000006' });
    expect(inv.lookup('10.128.0.2')).toBeUndefined();
    expect(inv.lookup('not an address')).toBeUndefined();
  });
});
