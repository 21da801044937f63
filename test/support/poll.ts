/**
 * Polling a condition with a deadline: how tests wait for state that no event announces (a key
 * gone from etcd, a lease expired). The interval only paces the reads; the deadline bounds them.
 */

/** Reads until `ok(value)` holds or `timeoutMs` passes; returns the last value read. */
export async function pollValue<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 25,
): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || performance.now() > end) return value;
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}

/** True once `check` says so within `timeoutMs`; a check that throws counts as not yet. */
export function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 25,
): Promise<boolean> {
  return pollValue(
    () => check().catch(() => false),
    ok => ok,
    timeoutMs,
    intervalMs,
  );
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5_000,
  intervalMs = 25,
): Promise<T> {
  const value = await pollValue(
    async () => check(),
    v => v !== undefined,
    timeoutMs,
    intervalMs,
  );
  if (value === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return value;
}
