import { idFromKey } from '../../api/commands/idempotency';
import { z } from 'zod';

describe('journey id from an Idempotency-Key', () => {
  it('is a valid UUID, stable for the same caller and key, distinct across callers and keys', () => {
    const a = idFromKey('user-1', 'key-1');
    expect(z.uuid().safeParse(a).success).toBe(true);
    expect(idFromKey('user-1', 'key-1')).toBe(a);
    expect(idFromKey('user-2', 'key-1')).not.toBe(a);
    expect(idFromKey('user-1', 'key-2')).not.toBe(a);
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    expect(idFromKey('ab', 'c')).not.toBe(idFromKey('a', 'bc'));
  });
});
