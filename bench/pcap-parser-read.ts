// Bench workload "npm pcap-parser 0.2.1, counting packets": the Node library baseline. It has no
// types and is CommonJS, hence createRequire and the small interface below.
//   node dist/bench/pcap-parser-read.js FILE   → {"packets": N}

import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

const require = createRequire(import.meta.url);
const pcapParser = require('pcap-parser') as { parse(input: string): EventEmitter };

const file = process.argv[2];
if (!file) {
  process.stderr.write('Usage: node dist/bench/pcap-parser-read.js <capture>\n');
  process.exit(2);
}
let packets = 0;
const parser = pcapParser.parse(file);
parser.on('packet', () => { packets++; });
parser.on('error', (e: Error) => {
  process.stderr.write(`pcap-parser: ${e.message}\n`);
  process.exitCode = 1;
});
parser.on('end', () => { process.stdout.write(JSON.stringify({ packets }) + '\n'); });
