import { unsafeTestMode } from '../slots/unsafe-test-mode.js';
import type { BundleKeys } from './bundle.js';
import type { BundleContext } from './bundle-context.js';

/**
 * TEST-ONLY negative control (SLOTLOCK_UNSAFE_TEST_MODE=bundle-slot-by-slot, NODE_ENV=test only;
 * validated in src/domain/slots/slot-queue.ts): a bundle takes its slots one by one, like clients
 * that lock in sequence. The chaos checkers must catch it: the member keys then appear at
 * different revisions, and bundles that share slots in another order can block each other.
 */
export const unsafeBundleMode = unsafeTestMode === 'bundle-slot-by-slot';

/** Puts each member key in its own transaction; returns each key's create revision. */
export async function putSlotBySlot(
  c: BundleContext,
  keys: BundleKeys,
  values: readonly string[],
  leaseId: string,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const tokens: string[] = [];
  for (const [i, key] of keys.members.entries()) {
    const res = await c.store.txn(
      { compare: [], success: [{ put: { key, value: values[i] ?? '', lease: leaseId } }] },
      { signal },
    );
    tokens.push(res.revision);
  }
  return tokens;
}
