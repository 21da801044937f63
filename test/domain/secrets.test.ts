import { describe, expect, it } from 'vitest';
import { idOfSecret, newSecret } from '../../src/domain/secrets.js';

describe('holder secrets', () => {
  it('are 256-bit base64url strings, never repeated across draws of the random pool', () => {
    const seen = new Set<string>();
    // 1,000 secrets span 16 draws of 64 from the CSPRNG.
    for (let i = 0; i < 1000; i++) {
      const s = newSecret();
      expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(s, 'base64url')).toHaveLength(32);
      seen.add(s);
    }
    expect(seen.size).toBe(1000);
    // Not a wiped (all-zero) slice of the pool.
    expect(seen.has(Buffer.alloc(32).toString('base64url'))).toBe(false);
    expect(idOfSecret(newSecret())).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
