import { describe, expect, it } from 'vitest';
import { dnsQuery, dnsResponse, dnsName } from '../../synth/app-payloads.js';
import { hex } from '../../synth/packets.js';
import {
  DnsMessage, decodeDns, readName, MAX_NAME, MAX_ANSWERS, D_TOO_SHORT, D_NO_QUESTION, D_LABEL_PAST_END, D_BAD_LABEL_TYPE,
  D_BAD_POINTER, D_TOO_MANY_JUMPS, D_NAME_TOO_LONG, D_QUESTION_PAST_END, D_ANSWER_PAST_END, DNS_REASON_NAMES,
} from './dns.js';

const name = new Uint8Array(MAX_NAME);
const text = (r: DnsMessage) => Buffer.from(name.subarray(0, r.nameLen)).toString('latin1');

function decode(b: Uint8Array): { rc: number; r: DnsMessage } {
  const r = new DnsMessage();
  return { rc: decodeDns(b, 0, b.length, r, name), r };
}

const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('decodeDns', () => {
  it('a query: header, the question name lower-cased with its longest label, the type', () => {
    const { rc, r } = decode(dnsQuery('Api.EXAMPLE.com', 'txt', 0xbeef));
    expect(rc).toBe(0);
    expect([r.id, r.qr, r.rcode, r.qdcount, r.ancount, r.qtype, r.qclass]).toEqual([0xbeef, 0, 0, 1, 0, 16, 1]);
    expect(text(r)).toBe('api.example.com');
    expect([r.nameLen, r.labelMax]).toEqual([15, 7]);
  });

  it('a response: rcode and the A/AAAA answers as offsets of their addresses; other records skipped', () => {
    const b = dnsResponse('a.io', 'a', [{ cname: 'b.io' }, '192.0.2.1', { txt: 'hello' }, '2001:db8::7'], 'noerror', 9);
    const { rc, r } = decode(b);
    expect(rc).toBe(0);
    expect([r.qr, r.rcode, r.ancount, r.answers]).toEqual([1, 0, 4, 2]);
    expect(text(r)).toBe('a.io');
    expect([...b.subarray(r.answerOff[0], r.answerOff[0] + 4)]).toEqual([192, 0, 2, 1]);
    expect(r.answerVersion[0]).toBe(4);
    expect(b[r.answerOff[1] + 15]).toBe(7);
    expect(r.answerVersion[1]).toBe(6);
    expect(decode(dnsResponse('nope.io', 'a', [], 'nxdomain')).r.rcode).toBe(3);
  });

  it('reads at most 16 answer records, whatever ancount says beyond', () => {
    const addrs = Array.from({ length: 20 }, (_, i) => `198.51.100.${i}`);
    const { rc, r } = decode(dnsResponse('many.io', 'a', addrs));
    expect(rc).toBe(0);
    expect(r.answers).toBe(MAX_ANSWERS);
    const lying = dnsResponse('many.io', 'a', addrs.slice(0, 2));
    lying[7] = 200; // ancount 200, 2 present
    expect(decode(lying).rc).toBe(-D_LABEL_PAST_END); // the third record's name would start at the end
  });

  it('keeps binary bytes of a label as they are (they are escaped at record time)', () => {
    const { rc, r } = decode(dnsQuery('a\x00\xffB.io'));
    expect(rc).toBe(0);
    expect([...name.subarray(0, r.nameLen)]).toEqual([0x61, 0, 0xff, 0x62, 0x2e, 0x69, 0x6f]);
  });

  it('names up to 253 characters; the root is the empty name', () => {
    const l = (n: number, c: string) => c.repeat(n);
    expect(decode(dnsQuery([l(63, 'a'), l(63, 'b'), l(63, 'c'), l(61, 'd')].join('.'))).r.nameLen).toBe(253);
    expect(decode(dnsQuery([l(63, 'a'), l(63, 'b'), l(63, 'c'), l(62, 'd')].join('.'))).rc).toBe(-D_NAME_TOO_LONG);
    const root = decode(dnsQuery('', 'any'));
    expect([root.rc, root.r.nameLen, root.r.qtype]).toEqual([0, 0, 255]);
  });

  it('says why a message is malformed, and never reads past the end', () => {
    const q = dnsQuery('abc.io');
    expect(decode(q.subarray(0, 11)).rc).toBe(-D_TOO_SHORT);
    expect(decode(concat(hex('0001 0100 0000 0000 0000 0000'), dnsName('x.io'))).rc).toBe(-D_NO_QUESTION);
    expect(decode(q.subarray(0, 14)).rc).toBe(-D_LABEL_PAST_END); // the label says 3 bytes, 1 is there
    expect(decode(q.subarray(0, q.length - 2)).rc).toBe(-D_QUESTION_PAST_END);
    const header = hex('0001 0100 0001 0000 0000 0000');
    expect(decode(concat(header, hex('41 61 00 0001 0001'))).rc).toBe(-D_BAD_LABEL_TYPE); // 0x40: extended label type
    expect(decode(concat(header, hex('01 61 c0 10 00 0001 0001'))).rc).toBe(-D_BAD_POINTER); // forward
    expect(decode(concat(header, hex('c0 0c 0001 0001'))).rc).toBe(-D_BAD_POINTER); // to itself
    expect(decode(concat(header, hex('c0 02 0001 0001'))).rc).toBe(-D_BAD_POINTER); // into the header
    expect(decode(concat(header, hex('01 61 c0'))).rc).toBe(-D_LABEL_PAST_END); // pointer cut
    // An answer whose RDLENGTH runs past the end, and one whose owner name points forward.
    const resp = dnsResponse('a.io', 'a', ['192.0.2.1']);
    expect(decode(resp.subarray(0, resp.length - 1)).rc).toBe(-D_ANSWER_PAST_END);
    const fwd = resp.slice();
    fwd[22 + 1] = 0x40; // owner pointer c040: after itself
    expect(decode(fwd).rc).toBe(-D_BAD_POINTER);
    expect(DNS_REASON_NAMES.length).toBe(10);
  });

  it('reads exactly b[off, end): the same message inside a larger buffer decodes the same', () => {
    const q = dnsResponse('x.example.com', 'aaaa', ['2001:db8::1']);
    const big = new Uint8Array(q.length + 40).fill(0xc0);
    big.set(q, 20);
    const r = new DnsMessage();
    expect(decodeDns(big, 20, 20 + q.length, r, name)).toBe(0);
    expect([text(r), r.answers, r.answerOff[0] - 20]).toEqual(['x.example.com', 1, q.length - 16]);
    // One byte short inside the larger buffer: the poison after the end is not read.
    expect(decodeDns(big, 20, 20 + q.length - 1, r, name)).toBe(-D_ANSWER_PAST_END);
  });
});

describe('readName: compression pointers', () => {
  // A message whose header is followed by names that later names point back into.
  const msg = concat(hex('0000 8100 0001 0000 0000 0000'), dnsName('example.com'), hex('03 777777 c0 0c'), hex('01 61 c0 19'));

  it('follows backward pointers, and returns where the name ended before its first jump', () => {
    const r = new DnsMessage();
    expect(readName(msg, 0, 25, msg.length, r, name)).toBe(31); // www.<12>
    expect(text(r)).toBe('www.example.com');
    expect(readName(msg, 0, 31, msg.length, r, name)).toBe(35); // a.<25>
    expect([text(r), r.labelMax]).toEqual(['a.www.example.com', 7]);
  });

  it('refuses a pointer that does not go below everything read so far (no loops), and long chains', () => {
    const r = new DnsMessage();
    // 25: "b" then a pointer back to 25 itself: a loop through a backward pointer.
    const loop = concat(msg.subarray(0, 25), hex('01 62 c0 19'));
    expect(readName(loop, 0, 25, loop.length, r, name)).toBe(-D_BAD_POINTER);
    // A chain: 17 pointers, each one 2 bytes before the last, then a name at 12.
    const chain = [hex('0000 8100 0001 0000 0000 0000'), dnsName('z')];
    for (let i = 0; i < 17; i++) chain.push(hex(`c0 ${(i === 0 ? 12 : 15 + 2 * (i - 1)).toString(16).padStart(2, '0')}`));
    const c = concat(...chain);
    expect(readName(c, 0, c.length - 2, c.length, r, name)).toBe(-D_TOO_MANY_JUMPS);
    expect(readName(c, 0, c.length - 4, c.length, r, name)).toBe(c.length - 2); // 16 jumps: allowed
    expect(text(r)).toBe('z');
  });
});
