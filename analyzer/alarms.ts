// The alarm lifecycle of one behavior on one device, as Device Defender runs it: a behavior goes
// in alarm after consecutiveDatapointsToAlarm breaching datapoints in a row, and is cleared after
// consecutiveDatapointsToClear non-breaching ones in a row. Only the two transitions are reported,
// so a device scanning for a day gives one in-alarm event, not 288.
//
// A record the behavior cannot judge (a baseline still warming up, a metric not measured) is no
// datapoint: it neither extends nor breaks a streak.
//
// An alarm has a severity level. Evidence that grows stronger while the alarm lasts (a slow scan that
// becomes a sweep) raises it, and that is reported as a new in-alarm transition at the higher level;
// weaker evidence never lowers it before the alarm clears.

export const IN_ALARM = 'in-alarm';
export const CLEARED = 'alarm-cleared';
export type AlarmTransition = typeof IN_ALARM | typeof CLEARED;

// Per behavior, five int32s: in alarm (0/1), breaching streak, clear streak, minute the alarm began,
// severity level of the alarm.
export const ALARM_FIELDS = 5;
const ACTIVE = 0;
const BREACH = 1;
const CLEAR = 2;
const SINCE = 3;
const LEVEL = 4;

export class AlarmStates {
  readonly a: Int32Array;

  constructor(readonly behaviors: number, state?: Int32Array) {
    this.a = state ?? new Int32Array(behaviors * ALARM_FIELDS);
  }

  step(rule: number, breached: boolean, toAlarm: number, toClear: number, minute: number, level = 0): AlarmTransition | null {
    const o = rule * ALARM_FIELDS;
    const a = this.a;
    if (breached) {
      a[o + CLEAR] = 0;
      a[o + BREACH]++;
      if (!a[o + ACTIVE] && a[o + BREACH] >= toAlarm) {
        a[o + ACTIVE] = 1;
        a[o + SINCE] = minute;
        a[o + LEVEL] = level;
        return IN_ALARM;
      }
      if (a[o + ACTIVE] && level > a[o + LEVEL]) {
        a[o + LEVEL] = level;
        return IN_ALARM;
      }
    } else {
      a[o + BREACH] = 0;
      if (a[o + ACTIVE]) {
        a[o + CLEAR]++;
        if (a[o + CLEAR] >= toClear) {
          a[o + ACTIVE] = 0;
          a[o + CLEAR] = 0;
          return CLEARED;
        }
      }
    }
    return null;
  }

  /** Severity level of the alarm (what step() was given when it went in alarm or escalated). */
  level(rule: number): number {
    return this.a[rule * ALARM_FIELDS + LEVEL];
  }

  active(rule: number): boolean {
    return this.a[rule * ALARM_FIELDS + ACTIVE] === 1;
  }

  anyActive(): boolean {
    for (let r = 0; r < this.behaviors; r++) if (this.a[r * ALARM_FIELDS + ACTIVE]) return true;
    return false;
  }

  /** Datapoints in the streak that caused the last transition. */
  streak(rule: number, transition: AlarmTransition, toClear: number): number {
    return transition === IN_ALARM ? this.a[rule * ALARM_FIELDS + BREACH] : toClear;
  }

  since(rule: number): number {
    return this.a[rule * ALARM_FIELDS + SINCE];
  }

  /** By behavior name, so a checkpoint survives behaviors being added, removed or reordered. */
  toJSON(names: readonly string[]): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    names.forEach((n, r) => {
      const o = r * ALARM_FIELDS;
      if (this.a[o + ACTIVE] || this.a[o + BREACH] || this.a[o + CLEAR]) out[n] = Array.from(this.a.subarray(o, o + ALARM_FIELDS));
    });
    return out;
  }

  static fromJSON(names: readonly string[], s: Record<string, number[]>): AlarmStates {
    const st = new AlarmStates(names.length);
    names.forEach((n, r) => {
      const v = s[n];
      if (v && v.length === ALARM_FIELDS) st.a.set(v, r * ALARM_FIELDS);
    });
    return st;
  }
}
