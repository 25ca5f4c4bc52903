import { it } from 'vitest';

// The worker dies mid-test, as an out-of-memory kill or a native crash would end it.
it('never finishes', () => {
  process.kill(process.pid, 'SIGKILL');
});
