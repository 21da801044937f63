/**
 * Notices etcd's revision going BACK, which only a restore from a snapshot (or a member started
 * on an old data dir) does: fencing tokens are revisions, so after that etcd would hand out again
 * tokens this replica already granted. In a healthy cluster every answer's header revision is at
 * least the highest revision observed before the call was sent (linearizability); an answer
 * below it means etcd went back. From then on a token not above that old high-water may repeat
 * one granted before the restore, until an operator advances etcd's revision past it.
 */
export class RevisionWatermark {
  private seen = 0n;
  private restoredBelow = 0n;

  /** The highest revision observed so far (decimal string, '0' before the first answer). */
  get highest(): string {
    return this.seen.toString();
  }

  /** The highest revision ever observed, including before etcd went back. */
  get highWater(): string {
    return (this.seen > this.restoredBelow ? this.seen : this.restoredBelow).toString();
  }

  /** The high-water etcd went back below, or undefined if it never did in this process. */
  get wentBackBelow(): string | undefined {
    return this.restoredBelow === 0n ? undefined : this.restoredBelow.toString();
  }

  /** What to pass to {@link observe} for a call about to be sent. */
  beforeSend(): bigint {
    return this.seen;
  }

  /** Records an answer's header revision; true when it shows etcd went back. */
  observe(revision: string | undefined, seenAtSend: bigint): boolean {
    if (revision === undefined || revision === '') return false;
    const r = BigInt(revision);
    if (r < seenAtSend) {
      if (seenAtSend > this.restoredBelow) this.restoredBelow = seenAtSend;
      this.seen = r;
      return true;
    }
    if (r > this.seen) this.seen = r;
    return false;
  }

  /** True when `token` is not above a revision seen before etcd went back: it may repeat. */
  mayRepeat(token: string): boolean {
    return this.restoredBelow !== 0n && BigInt(token) <= this.restoredBelow;
  }
}
