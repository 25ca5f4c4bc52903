// Puts tapwatch's dashboards into a Kibana: the index templates first (a data view over indices mapped by
// guesswork would offer the wrong field types), then the saved objects through Kibana's import API
// (services.md §3.3), overwriting earlier versions of the same ids.

import { Client } from '@elastic/elasticsearch';
import { installTemplates } from '../indexer/templates.js';
import type { TimeRange } from './panels.js';
import { savedObjectsNdjson } from './saved-objects.js';

export interface ImportLog {
  info(obj: object, msg: string): void;
}

export interface ImportOptions {
  kibanaUrl: string;
  elasticsearchUrl: string;
  log?: ImportLog;
  /** Defaults to what saved-objects.ts generates, the same bytes as dashboards/saved-objects.ndjson. */
  ndjson?: string;
  /** Every dashboard opens on this window instead of its own (not with `ndjson`). */
  time?: TimeRange;
}

/** One object Kibana refused, as its import API reports it. */
export interface KibanaImportError {
  id: string;
  type: string;
  title?: string;
  meta?: { title?: string };
  error: { type: string; message?: string; statusCode?: number; references?: { type: string; id: string }[] };
}

export interface KibanaImportResponse {
  success: boolean;
  successCount: number;
  errors?: KibanaImportError[];
  successResults?: { id: string; type: string; destinationId?: string }[];
}

function describeError(e: KibanaImportError): string {
  const title = e.title ?? e.meta?.title;
  const what = e.error.type === 'missing_references' ? `missing references ${(e.error.references ?? []).map((r) => `${r.type}/${r.id}`).join(', ')}` : e.error.type;
  return `${e.type}/${e.id}${title ? ` "${title}"` : ''}: ${what}${e.error.message ? ` (${e.error.message})` : ''}`;
}

/** POSTs the NDJSON; resolves to Kibana's answer when every object was imported, else throws one line per refused object. */
export async function importSavedObjects(kibanaUrl: string, ndjson: string): Promise<KibanaImportResponse> {
  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'tapwatch-saved-objects.ndjson');
  const url = new URL('api/saved_objects/_import?overwrite=true', kibanaUrl.endsWith('/') ? kibanaUrl : `${kibanaUrl}/`);
  const res = await fetch(url, { method: 'POST', headers: { 'kbn-xsrf': 'true' }, body: form }).catch((err: Error & { cause?: Error }) => {
    // fetch's own message is only "fetch failed"; the cause says what went wrong.
    throw new Error(`cannot reach Kibana at ${url.origin}: ${err.cause?.message ?? err.message}`);
  });
  const text = await res.text();
  let body: (Partial<KibanaImportResponse> & { message?: string; error?: string }) | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // Not Kibana's JSON (a proxy's error page, say): the status and text say more than a parse error.
  }
  if (!res.ok || body === undefined) throw new Error(`Kibana import at ${url.origin} failed: HTTP ${res.status}${body?.message ? `: ${body.message}` : `: ${text.slice(0, 500)}`}`);
  if (!body.success) {
    const errors = body.errors ?? [];
    throw new Error(`Kibana imported ${body.successCount ?? 0} saved objects and refused ${errors.length}:\n${errors.map((e) => `  ${describeError(e)}`).join('\n')}`);
  }
  return body as KibanaImportResponse;
}

export async function importDashboards(o: ImportOptions): Promise<KibanaImportResponse> {
  if (o.ndjson !== undefined && o.time !== undefined) throw new Error('give the saved objects or a time range for them, not both');
  // Before anything is installed: a bad range fails the command, not half of it.
  const ndjson = o.ndjson ?? savedObjectsNdjson({ time: o.time });
  // One retry, not the client's default three: a command run by hand should say soon that the node is not there.
  const client = new Client({ node: o.elasticsearchUrl, maxRetries: 1 });
  try {
    await installTemplates(client);
  } catch (err) {
    throw new Error(`cannot install the index templates at ${o.elasticsearchUrl}, so nothing was imported into Kibana: ${(err as Error).message}`);
  } finally {
    await client.close();
  }
  o.log?.info({ elasticsearch: o.elasticsearchUrl }, 'index templates installed');
  const result = await importSavedObjects(o.kibanaUrl, ndjson);
  o.log?.info({ kibana: o.kibanaUrl, imported: result.successCount }, 'dashboards imported');
  return result;
}
