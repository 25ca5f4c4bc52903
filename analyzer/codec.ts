// Typed arrays to and from base64 for checkpoints, and the string hash used for destination keys.
// State goes to a compacted Kafka topic as JSON: base64 of the raw bytes is exact (a float64 stays
// bit-identical, which a restored analyzer needs to continue exactly) and a third the size of
// a JSON number list. Byte order is the machine's; every supported Node target is little-endian.

type TypedArray = Float64Array | Float32Array | Int32Array | Uint32Array | Uint16Array | Uint8Array;
type TypedCtor<T extends TypedArray> = { new (length: number): T; readonly BYTES_PER_ELEMENT: number };

export function encodeArray(a: TypedArray): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function decodeArray<T extends TypedArray>(text: string, ctor: TypedCtor<T>, expectedLength?: number): T {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % ctor.BYTES_PER_ELEMENT !== 0) throw new Error(`checkpoint: ${bytes.byteLength} bytes is not a whole number of elements`);
  const out = new ctor(bytes.byteLength / ctor.BYTES_PER_ELEMENT);
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new Error(`checkpoint: expected ${expectedLength} elements, got ${out.length} (state written with another configuration?)`);
  }
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** FNV-1a over a string's UTF-16 code units, continuing from `h` so parts can be chained without concatenation. */
export function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a step over one 32-bit number (its four bytes). */
export function fnv1aInt(value: number, h: number): number {
  for (let s = 0; s < 32; s += 8) {
    h ^= (value >>> s) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: spreads a 32-bit key so that rows of a sketch see independent-looking hashes. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
