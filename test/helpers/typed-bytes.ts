// Bytes of the typed arrays an object holds (own properties, and those of plain objects under them):
// what a "memory per device" claim can be checked against instead of restating its formula.

export function typedArrayBytes(x: unknown, depth = 2): number {
  if (ArrayBuffer.isView(x)) return x.byteLength;
  if (x === null || typeof x !== 'object' || depth === 0) return 0;
  let sum = 0;
  for (const v of Object.values(x)) sum += typedArrayBytes(v, depth - 1);
  return sum;
}
