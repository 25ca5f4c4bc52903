import { describe, expect, it } from 'vitest';
import { clientHello } from '../../synth/app-payloads.js';
import { ClientHello, decodeClientHello, isClientHello, T_CUT, T_BAD_LENGTH, T_BAD_SERVER_NAME } from './tls.js';

function decode(b: Uint8Array, end = b.length): { rc: number; sni: string | null } {
  const h = new ClientHello();
  const rc = decodeClientHello(b, 0, end, h);
  return { rc, sni: h.sniLen < 0 ? null : Buffer.from(b.subarray(h.sniOff, h.sniOff + h.sniLen)).toString('latin1') };
}

// Offsets in clientHello(): record 5, handshake header 4, version 2, random 32, session id 1 + 32,
// suites 2 + 6, compression 1 + 1, then the extensions' length and the server_name extension.
const EXT_LEN = 5 + 4 + 2 + 32 + 33 + 8 + 2;

describe('ClientHello', () => {
  it('is recognised by its record and handshake types only', () => {
    const h = clientHello('a.io');
    expect(isClientHello(h, 0, h.length)).toBe(true);
    expect(isClientHello(h, 0, 5)).toBe(false);
    const data = h.slice();
    data[0] = 0x17; // application data
    expect(isClientHello(data, 0, data.length)).toBe(false);
    const serverHello = h.slice();
    serverHello[5] = 2;
    expect(isClientHello(serverHello, 0, serverHello.length)).toBe(false);
  });

  it('finds the server name, or says there is none', () => {
    expect(decode(clientHello('Api.Example.com'))).toEqual({ rc: 0, sni: 'Api.Example.com' });
    expect(decode(clientHello())).toEqual({ rc: 0, sni: null });
    expect(decode(clientHello('x.io', { padding: 300 }))).toEqual({ rc: 0, sni: 'x.io' });
  });

  it('a hello cut by the segment end is malformed (cut), yet a server name already complete is reported', () => {
    const h = clientHello('cloud.example.com', { padding: 600 });
    expect(decode(h, h.length - 1)).toEqual({ rc: -T_CUT, sni: 'cloud.example.com' });
    expect(decode(h, EXT_LEN + 8)).toEqual({ rc: -T_CUT, sni: null }); // inside the server_name extension
    expect(decode(h, 20)).toEqual({ rc: -T_CUT, sni: null });
    expect(decode(h, 6).rc).toBe(-T_CUT);
    // The handshake continues in a second record: cut too.
    const spans = h.slice();
    spans[3] = 0;
    spans[4] = 100; // record length 100 < handshake length
    expect(decode(spans).rc).toBe(-T_CUT);
  });

  it('lengths that contradict each other are inconsistent, not cut', () => {
    const h = clientHello('a.io');
    const sid = h.slice();
    sid[5 + 4 + 2 + 32] = 33; // session id longer than 32
    expect(decode(sid).rc).toBe(-T_BAD_LENGTH);
    const ext = h.slice();
    ext[EXT_LEN + 1]++; // extensions longer than the handshake says
    expect(decode(ext).rc).toBe(-T_BAD_LENGTH);
    const inner = h.slice();
    inner[EXT_LEN + 5]++; // server_name extension longer than the extensions
    expect(decode(inner).rc).toBe(-T_BAD_LENGTH);
    const list = h.slice();
    list[EXT_LEN + 7]++; // server name list length disagrees with the extension length
    expect(decode(list).rc).toBe(-T_BAD_LENGTH);
    const odd = h.slice();
    odd[5 + 4 + 2 + 32 + 33 + 1] = 5; // an odd cipher-suite length
    expect(decode(odd).rc).toBe(-T_BAD_LENGTH);
    const name = h.slice();
    name[EXT_LEN + 10] += 5; // host_name longer than the list
    expect(decode(name).rc).toBe(-T_BAD_LENGTH);
  });

  it('a zero-length host name is a bad server name', () => {
    const h = clientHello('a');
    // Make the one-byte name zero bytes long, shrinking every enclosing length by one.
    const b = Uint8Array.from([...h.subarray(0, EXT_LEN + 11), ...h.subarray(EXT_LEN + 12)]);
    const dec = (off: number, n: number) => {
      const v = (b[off] << 8) | b[off + 1];
      b[off] = (v - n) >> 8;
      b[off + 1] = (v - n) & 255;
    };
    dec(3, 1); // record
    b[8]--; // handshake (low byte)
    dec(EXT_LEN, 1); // extensions
    dec(EXT_LEN + 4, 1); // server_name extension
    dec(EXT_LEN + 6, 1); // list
    dec(EXT_LEN + 9, 1); // host_name
    expect(decode(b).rc).toBe(-T_BAD_SERVER_NAME);
  });
});
