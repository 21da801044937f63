/**
 * Faults the chaos suite and regression tests inject into the etcd adapter. They are passed only
 * as a constructor argument of {@link EtcdStore} (tests build their services with them); no
 * configuration or environment variable can turn them on in production.
 */
export interface EtcdFaults {
  /**
   * Asked after etcd answered a call of kind `op` (`txn`, `range`, `lease_grant`, ...): true
   * discards the answer and fails the call as a timeout, although etcd applied it (an answer lost
   * after commit).
   */
  loseAnswer?: (op: string) => boolean;
  /** Asked before a call of kind `op` is sent: true fails it as unreachable, unsent. */
  failBeforeSend?: (op: string) => boolean;
  /** Asked before a call of kind `op` is sent: milliseconds to hold it first (a slow network). */
  delaySend?: (op: string) => number;
  /** Asked once etcd answered a call of kind `op`: milliseconds to hold the answer back. */
  delayAnswer?: (op: string) => number;
}

/** The error an injected lost answer looks like: gRPC's DEADLINE_EXCEEDED (code 4). */
export class InjectedLostAnswer extends Error {
  override readonly name = 'GRPCDeadlineExceededError';
  readonly code = 4;

  constructor(op: string) {
    super(`injected fault: the answer to ${op} was lost after etcd applied it`);
  }
}

/** The error an injected unsent call looks like: no connection (never reached etcd). */
export class InjectedUnsent extends Error {
  override readonly name = 'GRPCUnavailableError';
  readonly code = 14;

  constructor(op: string) {
    super(`injected fault: No connection established for ${op}`);
  }
}
