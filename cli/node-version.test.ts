import { expect, it } from 'vitest';
import { nodeVersionWarning } from './node-version.js';

it('warns on a Node older than engines asks for, and only then', () => {
  expect(nodeVersionWarning('20.20.2', '>=22.12')).toMatch(/^tapwatch: running on Node 20\.20\.2, older than the Node 22\.12 .*\n$/);
  expect(nodeVersionWarning('22.11.9', '>=22.12')).not.toBeNull();
  expect(nodeVersionWarning('22.12.0', '>=22.12')).toBeNull();
  expect(nodeVersionWarning('24.22.3', '>=22.12')).toBeNull();
  expect(nodeVersionWarning('23.0.0', '>= 22.12.1')).toBeNull();
  expect(nodeVersionWarning('22.12.0', '>= 22.12.1')).not.toBeNull();
  // A range it does not understand is no reason to complain.
  expect(nodeVersionWarning('20.0.0', '^22 || ^24')).toBeNull();
  expect(nodeVersionWarning('20.0.0', undefined)).toBeNull();
});
