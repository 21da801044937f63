/**
 * TEST-ONLY negative controls (test/reliability/negative-controls.test.ts): deliberately broken
 * modes that the chaos checkers must catch. Read once from SLOTLOCK_UNSAFE_TEST_MODE; any value
 * without NODE_ENV=test throws here, so a process started that way refuses to start.
 *   skip-recheck        promote the oldest local waiter on a watched delete, without the read
 *   grant-without-head  grant every waiting acquire at once, whatever its place in the queue
 *   bundle-slot-by-slot create a bundle's member keys one slot at a time (src/domain/bundles/)
 */
export const unsafeTestMode = (():
  'skip-recheck' | 'grant-without-head' | 'bundle-slot-by-slot' | undefined => {
  const mode = process.env.SLOTLOCK_UNSAFE_TEST_MODE;
  if (mode === undefined || mode === '') return undefined;
  if (
    process.env.NODE_ENV !== 'test' ||
    (mode !== 'skip-recheck' && mode !== 'grant-without-head' && mode !== 'bundle-slot-by-slot')
  ) {
    throw new Error(
      `refusing to start: SLOTLOCK_UNSAFE_TEST_MODE=${mode} breaks mutual exclusion on purpose and is only accepted (skip-recheck|grant-without-head|bundle-slot-by-slot) with NODE_ENV=test`,
    );
  }
  return mode;
})();
