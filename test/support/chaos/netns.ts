/**
 * Network isolation for chaos runs. When `ip netns`, `nft` and `setpriv` work (as root), a run gets
 * its own network namespace (its own loopback: no port clash with anything on the machine), every
 * etcd member runs under its own uid, and nft rules keyed on that uid cut one member off from its
 * peers in both directions. Otherwise members reach each other through peer proxies that cut one
 * off (test/support/peer-partition.ts).
 */
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** uid of etcd member `member-<i>` inside a namespaced run. */
export const memberUid = (index: number): number => 60001 + index;

const TABLE = 'slotlock_chaos';

export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
    });
    // A command that exits before reading its input (e.g. nft or ip missing, or refusing) closes
    // the pipe: the EPIPE of that write would be an uncaught exception; its exit status reports it.
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** True when this process may create a namespace and load nft rules in it (probed, then removed). */
export async function netnsUsable(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const probe = `slchaos-probe-${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch {
    return false;
  }
  try {
    await run('ip', ['netns', 'exec', probe, 'nft', '-f', '-'], 'table inet probe { }\n');
    await run('ip', [
      'netns',
      'exec',
      probe,
      'setpriv',
      '--reuid=60001',
      '--regid=60001',
      '--clear-groups',
      'true',
    ]);
    return true;
  } catch {
    return false;
  } finally {
    await run('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
}

export async function createNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

export async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]);
}

/**
 * Writes an `ETCD_BIN` wrapper that runs `member-<i>` as uid {@link memberUid}(i), owning its data
 * dir. etcd-process passes `--name=` and `--data-dir=`, and the wrapper execs, so pids stay etcd's.
 */
export function writeEtcdWrapper(dir: string, realEtcd: string): string {
  const path = join(dir, 'etcd-as-member.sh');
  writeFileSync(
    path,
    `#!/bin/sh
# slotlock chaos harness: run etcd member-N as uid 60001+N (nft rules match on it).
i=0
d=
for a in "$@"; do
  case "$a" in
    --name=member-*) i="\${a#--name=member-}" ;;
    --data-dir=*) d="\${a#--data-dir=}" ;;
  esac
done
uid=$((60001 + i))
if [ -n "$d" ]; then mkdir -p "$d" && chown -R "$uid:$uid" "$d"; fi
exec setpriv --reuid="$uid" --regid="$uid" --clear-groups ${realEtcd} "$@"
`,
  );
  chmodSync(path, 0o755);
  return path;
}

/**
 * Cuts member `index` off from its peers in both directions, in the current namespace: packets its
 * uid sends to the other peer ports mark their connection, marked connections drop both ways, and
 * its own peer port drops both ways. Client traffic to the member still flows (a minority member
 * that clients can reach). {@link heal} removes the rules.
 */
export async function isolate(
  index: number,
  peerPort: number,
  otherPeerPorts: number[],
): Promise<void> {
  const others = otherPeerPorts.join(', ');
  await run(
    'nft',
    ['-f', '-'],
    `table inet ${TABLE} {
  chain out {
    type filter hook output priority 0; policy accept;
    meta skuid ${memberUid(index)} tcp dport { ${others} } ct mark set 0x5c01
    ct mark 0x5c01 drop
    tcp dport ${peerPort} drop
    tcp sport ${peerPort} drop
  }
}
`,
  );
}

export async function heal(): Promise<void> {
  await run('nft', ['delete', 'table', 'inet', TABLE]).catch(() => undefined);
}
