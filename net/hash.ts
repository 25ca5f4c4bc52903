// FNV-1a, for spreading ids over slots where the slot must not change from run to run (a quarantine
// group's mark and routing table): the values are part of what a gateway holds, so they never change.

/** FNV-1a over a string's UTF-16 code units, continuing from `h` so parts can be chained without concatenation. */
export function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
