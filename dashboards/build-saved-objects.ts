// Writes the generated files of dashboards/ (npm run dashboards:build, after a build): saved-objects.ndjson from
// saved-objects.ts, and demo/analyzer-rules.json, the compose demo analyzer's configuration, from demo/config.ts
// (the one `tapwatch demo` runs with). They are committed so they can be used without building; the tests fail when
// either is out of date.
//   node dist/dashboards/build-saved-objects.js [out.ndjson]

import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { demoAnalyzerConfig } from '../demo/config.js';
import { savedObjectsNdjson } from './saved-objects.js';

/** The repository, found from the source (dashboards/) or the build (dist/dashboards/) alike. */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = up;
  }
  return dir;
}

/** The repository's copy of the saved objects. */
export const committedNdjsonPath = (): string => join(repoRoot(), 'dashboards', 'saved-objects.ndjson');

/** The analyzer configuration the compose demo profile runs `tapwatch analyze --rules` with. */
export const demoRulesPath = (): string => join(repoRoot(), 'dashboards', 'demo', 'analyzer-rules.json');

export const demoRulesJson = (): string =>
  JSON.stringify(
    {
      ...demoAnalyzerConfig(),
      $comment:
        'Generated from demo/config.ts by npm run dashboards:build: the default behaviors and thresholds on the compressed clock of the bundled 16-minute incident capture (1-minute intervals, 12 of them to learn), as `tapwatch demo` runs them. For the compose demo profile only: a real fleet learns for a day.',
    },
    null,
    2,
  ) + '\n';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv[2] ?? committedNdjsonPath();
  const ndjson = savedObjectsNdjson();
  writeFileSync(out, ndjson);
  process.stdout.write(`${out}: ${ndjson.trimEnd().split('\n').length} saved objects\n`);
  writeFileSync(demoRulesPath(), demoRulesJson());
  process.stdout.write(`${demoRulesPath()}: the compose demo's analyzer configuration\n`);
}
