// Typed arrays to and from base64 for checkpoints.
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
