// vitest globalSetup for the `es` project (test/**/*.es.test.ts): one real Elasticsearch node shared by those
// files, handed to them as inject('elasticsearchUrl'). vitest runs a project's globalSetup only when one of its
// files is selected, so runs without Elasticsearch tests never start a JVM.
//   ELASTICSEARCH_URL=http://host:port   use that node (it must answer) instead of starting one
//   ELASTICSEARCH_VERSION=8.19.4         8.x release to start (default scripts/es-node.ts DEFAULT_ES_VERSION)
// A node that cannot start fails the run; tests are never skipped for want of Elasticsearch.

import type { TestProject } from 'vitest/node';
import { startElasticsearch, waitForElasticsearch, type EsNode } from '../../scripts/es-node.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the shared node, e.g. 'http://127.0.0.1:9200' */
    elasticsearchUrl: string;
  }
}

let node: EsNode | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.ELASTICSEARCH_URL;
  if (external) {
    await waitForElasticsearch(external, { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`ELASTICSEARCH_URL=${external} does not answer: ${err.message}`);
    });
    project.provide('elasticsearchUrl', external);
    return;
  }
  const t0 = Date.now();
  node = await startElasticsearch({ version: process.env.ELASTICSEARCH_VERSION || undefined });
  console.log(`Elasticsearch ${node.version} up at ${node.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${node.pid}, log ${node.logFile})`);
  project.provide('elasticsearchUrl', node.url);
}

export async function teardown(): Promise<void> {
  await node?.stop();
}
