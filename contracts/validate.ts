// The one validator factory for every boundary type: a schema from contracts/ in, a validator out,
// compiled on first use (TypeBox's compiler: measured faster than Ajv on these schemas, and no second
// schema dialect to keep apart). Problems come as lines a person can act on: the path, what is wrong,
// the allowed values when there is a list of them, and, in a list of named items (a rules file's
// behaviors), the item's index and name.

import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Format } from 'typebox/format';
import { Settings } from 'typebox/system';
import { isDateTime } from './date-time.js';

// A compiled validator takes its format checks from the registry when it is compiled (on first use, below).
Format.Set('date-time', isDateTime);

/**
 * The options of a contract published as its own JSON Schema document (the inspection record, the anomaly
 * event): draft-07, its $id under https://tapwatch.dev/schema/ (`name` is e.g. 'anomaly-event.v2'), and no
 * properties but the ones it names.
 */
export function publishedSchema(name: string, title: string, description: string) {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://tapwatch.dev/schema/${name}.json`,
    title,
    description,
    additionalProperties: false as const,
  };
}

export interface Validator<T> {
  check(value: unknown): value is T;
  /** One line per problem; empty when the value conforms. */
  problems(value: unknown, opts?: { list?: string; max?: number }): string[];
  /** The problems on one line, or null when the value conforms. */
  errors(value: unknown): string | null;
}

interface Problem {
  keyword: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

export function validator<S extends TSchema>(schema: S): Validator<Static<S>> {
  let compiled: ReturnType<typeof Compile<S>> | null = null;
  const get = () => (compiled ??= Compile(schema));
  const problems = (value: unknown, opts: { list?: string; max?: number } = {}): string[] => {
    const c = get();
    if (c.Check(value)) return [];
    const out: string[] = [];
    const max = opts.max ?? 20;
    // TypeBox stops at its own maxErrors (8 by default, a process-wide setting): raised for this call only,
    // so a file with nine mistakes gets nine lines, and restored so other validators keep their cost.
    const before = Settings.Get().maxErrors;
    Settings.Set({ maxErrors: Math.max(before, 2 * max) });
    try {
      for (const e of c.Errors(value) as Iterable<Problem>) {
        // A union's branches each report their own mismatch before the union does: the union's line says it.
        if (e.keyword === 'const' && /anyOf\/\d+$/.test((e as { schemaPath?: string }).schemaPath ?? '')) continue;
        out.push(line(e, value, opts.list));
        if (out.length >= max) break;
      }
    } finally {
      Settings.Set({ maxErrors: before });
    }
    return out;
  };
  return {
    check: (value): value is Static<S> => get().Check(value),
    problems,
    errors: (value) => {
      const p = problems(value);
      return p.length ? p.join('; ') : null;
    },
  };
}

function line(e: Problem, value: unknown, list: string | undefined): string {
  const allowed = e.params && Array.isArray(e.params.allowedValues) ? `: ${(e.params.allowedValues as unknown[]).join(', ')}` : '';
  const extra = e.params && Array.isArray(e.params.additionalProperties) ? `: ${(e.params.additionalProperties as string[]).join(', ')}` : '';
  return `${where(value, e.instancePath, list)} ${e.message ?? e.keyword}${allowed}${extra}`;
}

function where(value: unknown, path: string, list: string | undefined): string {
  if (list) {
    const m = new RegExp(`^/${list}/(\\d+)(.*)$`).exec(path);
    if (m) {
      const item = (value as Record<string, { name?: unknown }[]>)[list]?.[Number(m[1])];
      return `${list}[${m[1]}]${typeof item?.name === 'string' ? ` '${item.name}'` : ''}${m[2] ? ` ${m[2]}` : ''}`;
    }
  }
  return path || '(top level)';
}
