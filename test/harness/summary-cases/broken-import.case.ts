import { it } from 'vitest';

throw new Error('the module cannot load');
it('is never collected', () => {});
