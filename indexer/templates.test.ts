// The inspection template against the record schema and a record that uses every field: each leaf of
// the schema has a mapping of a fitting type, and every leaf of a real document finds one (the mapping is
// strict: Elasticsearch would reject the document otherwise). test/elasticsearch.es.test.ts checks the
// same on a real node with the demo capture's records.

import { describe, expect, it } from 'vitest';
import { tcp, udp, icmp, ipv4, bytes } from '../synth/packets.js';
import { clientHello } from '../synth/app-payloads.js';
import { InspectionRecordSchema } from '../contracts/inspection-record.js';
import { INDEX_TEMPLATES } from './templates.js';
import { inspectionDocument } from './documents.js';
import { fieldTypes, indexedNow } from '../test/helpers/es-fixtures.js';
import { collectFrames, mirror, up, down, query, answer, syn, rst, byDevice, type Timed } from '../test/helpers/evidence-frames.js';

const template = INDEX_TEMPLATES['tapwatch-inspection'].template.mappings.properties;
const types = fieldTypes(template);

/** JSON-schema leaves: dotted path → the JSON type of its values (array items included). */
function schemaLeaves(s: Record<string, unknown>, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (s.type === 'object' && s.properties) {
    for (const [k, v] of Object.entries(s.properties as Record<string, Record<string, unknown>>)) schemaLeaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (s.type === 'array') schemaLeaves(s.items as Record<string, unknown>, prefix, out);
  else out[prefix] = String(s.type ?? (s.enum || s.anyOf ? 'string' : s.const !== undefined ? typeof s.const : '?'));
  return out;
}

/** Leaves of a document: dotted path → the values found there. */
function docLeaves(v: unknown, prefix = '', out: Map<string, unknown[]> = new Map()): Map<string, unknown[]> {
  if (Array.isArray(v)) for (const x of v) docLeaves(x, prefix, out);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) docLeaves(x, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, [...(out.get(prefix) ?? []), v]);
  return out;
}

const FITS: Record<string, string[]> = { integer: ['long'], number: ['double', 'long'], boolean: ['boolean'], string: ['keyword', 'ip', 'date', 'text'] };

describe('the tapwatch-inspection template', () => {
  it('maps every field of the record schema with a fitting type; contacts and dns.domains nested, names keyword', () => {
    const leaves = schemaLeaves(InspectionRecordSchema as unknown as Record<string, unknown>);
    const unfit = Object.entries(leaves).filter(([path, t]) => !(FITS[t] ?? []).includes(types[path]));
    expect(unfit.map(([p, t]) => `${p}: ${t} → ${types[p]}`)).toEqual([]);
    expect(types).toMatchObject({
      contacts: 'nested', 'dns.domains': 'nested', 'destinations.top': 'nested',
      'contacts.ip': 'ip', 'contacts.name': 'keyword', 'destinations.top.name': 'keyword', 'destinations.top.name_source': 'keyword',
      'dns.domains.domain': 'keyword', 'dns.domains.examples': 'keyword', 'dns.domains.entropy': 'double', 'dns.entropy_mean': 'double',
      'connections.failed_sample.ip': 'ip', 'dns.resolvers.ip': 'ip', 'contacts.bursts': 'long', 'contacts.answered': 'boolean',
    });
  });

  it('accepts a document whose record uses every evidence field', () => {
    const DEV = '10.128.0.5';
    const sent = ipv4(udp(bytes(20), { src: 40002, dst: 5000 }), { src: DEV, dst: '198.51.100.60', proto: 17 });
    const frames: Timed[] = [
      [query(DEV, 'api.example.com'), 1],
      [answer(DEV, 'api.example.com', 'a', ['203.0.113.7']), 1.01],
      [query(DEV, 'x7f3k2.t.tunnel.example.org', 'txt', 2), 2],
      [answer(DEV, 'gone.example.com', 'a', [], 'nxdomain', 3), 2.5],
      [syn(DEV, '203.0.113.7', 443), 3],
      [up(DEV, '203.0.113.7', tcp(clientHello('api.example.com'), { src: 40000, dst: 443, flags: 0x18 }), 6), 3.1],
      [syn(DEV, '198.51.100.9', 23), 4],
      [rst(DEV, '198.51.100.9', 23), 4.1],
      [mirror(sent), 5],
      [down(DEV, '192.0.2.254', icmp(sent.subarray(0, 28), { type: 3, code: 3 }), 1), 5.1],
    ];
    const [r] = byDevice(collectFrames(frames), DEV);
    expect(r.contacts.some((c) => c.name)).toBe(true);
    expect(r.dns.domains.length).toBeGreaterThan(0);
    expect(r.connections.failed_sample.length).toBeGreaterThan(0);
    const unmapped = [...docLeaves(inspectionDocument(r, indexedNow()))].filter(([path, values]) => {
      const t = types[path];
      return t === undefined || values.some((v) => !FITS[typeof v === 'number' ? 'number' : typeof v]?.includes(t));
    });
    expect(unmapped.map(([p]) => p)).toEqual([]);
  });
});
