/**
 * Waiting for a signal to take effect. SIGSTOP is delivered asynchronously: `kill()` returns
 * before the target has stopped, so a test that goes on at once may still see it answer. The
 * kernel's view is in `/proc/<pid>/stat` (state `T` once stopped).
 */
import { readFile } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** The one-letter state of `pid` from `/proc/<pid>/stat` (R, S, D, T, Z, ...). */
export async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (in parentheses) may contain spaces: the state follows the last ')'.
  const end = stat.lastIndexOf(')');
  return stat.slice(end + 2, end + 3);
}

/**
 * Sends SIGSTOP to `pid` and resolves once the kernel reports it stopped (state `T`), or rejects
 * after `timeoutMs` (default 5 s) or when the process is gone. Where there is no `/proc` (not
 * Linux) it resolves right after the signal.
 */
export async function stopProcess(pid: number, opts: { timeoutMs?: number } = {}): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  if (process.platform !== 'linux') return;
  const deadline = performance.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    const state = await processState(pid);
    if (state === 'T' || state === 't') return;
    if (state === 'Z' || state === 'X')
      throw new Error(`process ${pid} exited instead of stopping`);
    if (performance.now() > deadline) {
      throw new Error(
        `process ${pid} did not stop within ${opts.timeoutMs ?? 5000} ms (state ${state})`,
      );
    }
    await nextTurn();
  }
}
