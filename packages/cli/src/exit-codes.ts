/**
 * The exit codes of `slotlock`, documented in `slotlock --help` and the README. `lock` and `elect`
 * otherwise exit with the status of the command they ran (128 + N when it died of signal N).
 */
export const exitCodes = {
  /** Done; for `check`, the token is current. */
  ok: 0,
  /** The service (or etcd) failed or could not be reached, or answered something unexpected. */
  failure: 1,
  /** Bad arguments or options. */
  usage: 2,
  /**
   * A negative answer: the slot is busy or the wait timed out, the token is not current, there is
   * no leader, the grant to release does not exist, or `verify` found violations.
   */
  negative: 3,
  /** The grant or leadership was lost while the command ran; the command was stopped. */
  lost: 4,
  /** The command could not be started (not found or not executable). */
  notStarted: 127,
} as const;
