import type { Logger } from 'pino';

/** How `main` hands its drain to the last-resort handlers once there is something to drain. */
export interface LastResort {
  /** From now on a fatal error drains with `drain` (SIGTERM's path) before the process exits. */
  drainWith(drain: (reason: string) => Promise<void>): void;
}

/**
 * Installs last-resort handlers for an uncaught exception and an unhandled rejection: a bug (ours
 * or a library's) must never end a replica silently. The error is logged at `fatal` with its
 * stack; the replica then drains as on SIGTERM (readiness 503, long-polls answered `503 draining`,
 * holders' leases kept for another replica) and exits 1. Before `drainWith` is called there is
 * nothing to drain and it exits 1 at once; a drain that does not finish within `graceMs` + 5 s is
 * cut short, still with exit code 1.
 */
export function installLastResort(log: Logger, graceMs: number): LastResort {
  let drain: ((reason: string) => Promise<void>) | undefined;
  let fired = false;
  const onFatal = (kind: 'uncaughtException' | 'unhandledRejection') => (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    log.fatal({ err, kind }, `${kind}: ${message}; draining and exiting`);
    if (fired) return;
    fired = true;
    process.exitCode = 1;
    setTimeout(() => process.exit(1), graceMs + 5000).unref();
    if (drain === undefined) process.exit(1);
    drain(kind).catch((drainErr: unknown) => {
      log.fatal({ err: drainErr }, 'drain after a fatal error failed');
      process.exit(1);
    });
  };
  process.on('uncaughtException', onFatal('uncaughtException'));
  process.on('unhandledRejection', onFatal('unhandledRejection'));
  return {
    drainWith: next => {
      drain = next;
    },
  };
}
