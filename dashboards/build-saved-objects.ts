// Writes dashboards/saved-objects.ndjson from saved-objects.ts (npm run dashboards:build, after a build). The file is
// committed so it can be imported without building; test/dashboards.es.test.ts fails when it is out of date.
//   node dist/dashboards/build-saved-objects.js [out.ndjson]

import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { savedObjectsNdjson } from './saved-objects.js';

/** The repository's copy, found from the source (dashboards/) or the build (dist/dashboards/) alike. */
export function committedNdjsonPath(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = up;
  }
  return join(dir, 'dashboards', 'saved-objects.ndjson');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv[2] ?? committedNdjsonPath();
  const ndjson = savedObjectsNdjson();
  writeFileSync(out, ndjson);
  process.stdout.write(`${out}: ${ndjson.trimEnd().split('\n').length} saved objects\n`);
}
