import { expect, it } from 'vitest';

it('passes but leaves an error behind', () => {
  setTimeout(() => {
    throw new Error('thrown after the test');
  }, 0);
  expect(1).toBe(1);
});
