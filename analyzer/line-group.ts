// Which group a record line belongs to, read from its bytes without parsing it: `analyze --in` hands
// each group to one worker thread, and parsing is most of what the workers are there to share. The
// record schema has one property named "group" (device.group) and no additional properties anywhere,
// so in a valid record the first `"group"` followed by a colon is that one (inside a JSON string a
// quote is escaped, so the bytes `"group"` there are never followed by a colon). A line that is not a
// valid record goes wherever this says; the worker rejects it all the same.

const GROUP = Buffer.from('"group"');
const BACKSLASH = 0x5c;
const QUOTE = 0x22;

/** The group named in `line` (a record's JSON), or `fallback` when it names none; never throws. */
export function lineGroup(line: Buffer, fallback: string): string {
  for (let at = line.indexOf(GROUP); at >= 0; at = line.indexOf(GROUP, at + 1)) {
    let i = skipSpace(line, at + GROUP.length);
    if (line[i] !== 0x3a) continue; // ':' — otherwise the bytes were a value, not the key
    i = skipSpace(line, i + 1);
    if (line[i] !== QUOTE) return fallback;
    let escaped = false;
    for (let j = i + 1; j < line.length; j++) {
      const c = line[j];
      if (c === BACKSLASH) {
        escaped = true;
        j++;
      } else if (c === QUOTE) {
        const raw = line.toString('utf8', i, j + 1);
        if (!escaped) return raw.slice(1, -1);
        try {
          return JSON.parse(raw) as string;
        } catch {
          return fallback;
        }
      }
    }
    return fallback;
  }
  return fallback;
}

function skipSpace(b: Buffer, i: number): number {
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  return i;
}
