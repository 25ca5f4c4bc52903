// One worker thread of `analyze --in` (group-workers.ts): an analyzer of its own for the groups it is
// given. It parses and validates each line it gets (the edge: a file anyone may have written), runs the
// record through its analyzer and sends back the events, each with the line it came from, so the main
// thread writes them in the order one analyzer would have.

import { parentPort, workerData } from 'node:worker_threads';
import { recordErrors, type InspectionRecord } from '../contracts/inspection-record.js';
import { createAnalyzer, groupOf } from './analyzer.js';
import type { Batch, BatchResult, WorkerSummary } from './group-workers.js';
import type { AnalyzerConfig } from './rules.js';

const analyzer = createAnalyzer(workerData as AnalyzerConfig);
const groups = new Set<string>();

parentPort!.on('message', (m: Batch | 'end') => {
  if (m === 'end') {
    const summary: WorkerSummary = { warming: analyzer.warming(), groups: [...groups] };
    parentPort!.postMessage(summary);
    return;
  }
  const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  const buffers = { bytes: m.bytes.buffer, ends: m.ends.buffer, lines: m.lines.buffer };
  const out: BatchResult = { batch: m.batch, buffers, records: 0, events: [], invalid: [] };
  let start = 0;
  for (let k = 0; k < m.count; k++) {
    const line = m.lines[k];
    const end = m.ends[k];
    const text = bytes.toString('utf8', start, end);
    start = end;
    let record: InspectionRecord;
    try {
      record = JSON.parse(text);
      const problem = recordErrors(record);
      if (problem) throw new Error(problem);
    } catch (err) {
      out.invalid.push([line, (err as Error).message]);
      continue;
    }
    out.records++;
    groups.add(groupOf(record));
    for (const e of analyzer.process(record)) out.events.push([line, JSON.stringify(e)]);
  }
  parentPort!.postMessage(out, [buffers.bytes, buffers.ends, buffers.lines]);
});
