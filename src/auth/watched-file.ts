import { watch, readFileSync, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

/**
 * A configuration file that is re-read when it changes, without a restart: a watch on its
 * directory (Kubernetes swaps Secret and ConfigMap files through a symlink, which a watch on the
 * file itself misses) plus an mtime/size/inode check every `pollMs` as a backstop, and
 * {@link WatchedFile.check} for SIGHUP. The first read happens in the constructor and throws;
 * a later bad version is logged and the last good one stays in force.
 */
export class WatchedFile {
  private stamp: string;
  private readonly watcher: FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly path: string,
    private readonly apply: (content: Buffer) => void,
    private readonly log: Logger,
    pollMs = 2000,
  ) {
    this.stamp = stampOf(path);
    apply(readFileSync(path));
    try {
      this.watcher = watch(dirname(path), { persistent: false }, () => {
        this.check();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      this.watcher = undefined;
    }
    this.timer = setInterval(() => {
      this.check();
    }, pollMs);
    this.timer.unref();
  }

  /** Re-reads the file if its mtime, size or inode changed; true when a new version was applied. */
  check(): boolean {
    let stamp: string;
    try {
      stamp = stampOf(this.path);
    } catch (err) {
      this.log.error(
        { err, file: this.path },
        'cannot read a watched file; keeping the last good version',
      );
      return false;
    }
    if (stamp === this.stamp) return false;
    try {
      this.apply(readFileSync(this.path));
      this.stamp = stamp;
      this.log.info({ file: basename(this.path) }, 'reloaded a changed configuration file');
      return true;
    } catch (err) {
      this.stamp = stamp;
      this.log.error(
        { err, file: this.path },
        'a changed file is invalid; keeping the last good version',
      );
      return false;
    }
  }

  /** Stops watching. */
  close(): void {
    this.watcher?.close();
    clearInterval(this.timer);
  }
}

function stampOf(path: string): string {
  const st = statSync(path);
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}
