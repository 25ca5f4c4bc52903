// What the analyzer's configuration files (rules, response policy) share: finding the bundled default
// and turning Ajv's errors into lines a person can fix the file from.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';

/**
 * The path of a JSON file shipped in a module's folder (analyzer/, responder/): in the source tree, or
 * from dist/ (tsc does not copy JSON; the build does), beside the compiled module. When neither has it,
 * throws what `missing` makes of the problem, so each file keeps its own error code.
 */
export function bundledFile(folder: string, name: string, missing: (problem: string) => Error): string {
  const candidates = [new URL(`../${folder}/${name}`, import.meta.url), new URL(`../../${folder}/${name}`, import.meta.url)];
  for (const u of candidates) if (existsSync(u)) return fileURLToPath(u);
  throw missing(`${folder}/${name} not found from ${fileURLToPath(import.meta.url)}`);
}

/**
 * One line per schema error, naming an item of the top-level array `list` by index and name
 * ("behaviors[3] 'dns-tunnel' /metric must be ...") so a long file is quick to fix; allowed values are listed.
 */
export function schemaProblems(errors: readonly ErrorObject[] | null | undefined, config: unknown, list: string): string[] {
  return (errors ?? []).map((e) => `${where(config, e.instancePath, list)} ${e.message}${e.params && 'allowedValues' in e.params ? `: ${(e.params.allowedValues as string[]).join(', ')}` : ''}`);
}

function where(config: unknown, path: string, list: string): string {
  const m = new RegExp(`^/${list}/(\\d+)(.*)$`).exec(path);
  if (!m) return path || '(top level)';
  const item = (config as Record<string, { name?: unknown }[]>)[list][Number(m[1])];
  return `${list}[${m[1]}]${typeof item?.name === 'string' ? ` '${item.name}'` : ''}${m[2] ? ` ${m[2]}` : ''}`;
}
