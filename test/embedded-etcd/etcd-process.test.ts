import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  startEtcdCluster,
  startEtcdMember,
  type EtcdCluster,
  type EtcdMember,
} from '../../src/embedded-etcd/index.js';
import { withTempDir } from '../support/etcd.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Pids of processes whose command line mentions `needle` (Linux /proc). */
function pidsMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter(entry => /^\d+$/.test(entry))
    .filter(entry => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Retries `attempt` until it resolves, or rethrows its last error once `timeoutMs` has passed. */
async function eventually<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100); // Poll interval, not a wait for an event: the deadline bounds the loop.
    }
  }
}

async function putThenGet(hosts: string[], key: string, value: string): Promise<string | null> {
  const client = new Etcd3({ hosts, dialTimeout: 2000 });
  try {
    await client
      .put(key)
      .value(value)
      .options({ deadline: Date.now() + 1000 });
    return await client
      .get(key)
      .options({ deadline: Date.now() + 1000 })
      .string();
  } finally {
    client.close();
  }
}

async function getString(hosts: string[], key: string): Promise<string | null> {
  const client = new Etcd3({ hosts, dialTimeout: 2000 });
  try {
    return await client
      .get(key)
      .options({ deadline: Date.now() + 1000 })
      .string();
  } finally {
    client.close();
  }
}

describe('etcd-process', () => {
  it('starts a healthy member and leaves no process once stopped', async () => {
    await withTempDir(async dir => {
      const member = await startEtcdMember({ name: 'solo', dataDir: join(dir, 'data') });
      try {
        expect(member.clientUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const res = await fetch(`${member.clientUrl}/health`, {
          signal: AbortSignal.timeout(2000),
        });
        expect(await res.json()).toMatchObject({ health: 'true' });
        expect(isAlive(member.pid)).toBe(true);
      } finally {
        await member.stop();
      }
      expect(isAlive(member.pid)).toBe(false);
      expect(() => process.kill(member.pid, 0)).toThrow(/ESRCH/);
      await member.stop(); // idempotent
    });
  });

  it('keeps a written key across a restart on the same data dir', async () => {
    await withTempDir(async dir => {
      const first = await startEtcdMember({ name: 'durable', dataDir: join(dir, 'data') });
      let second: EtcdMember | undefined;
      try {
        expect(await putThenGet([first.clientUrl], 'k', 'v')).toBe('v');
        second = await first.restart();
        expect(isAlive(first.pid)).toBe(false);
        expect(second.pid).not.toBe(first.pid);
        expect(second.clientUrl).toBe(first.clientUrl);
        expect(await getString([second.clientUrl], 'k')).toBe('v');
      } finally {
        await first.stop();
        await second?.stop();
      }
      expect(isAlive(second.pid)).toBe(false);
    });
  });

  it('stops a paused member', async () => {
    await withTempDir(async dir => {
      const member = await startEtcdMember({ name: 'paused', dataDir: join(dir, 'data') });
      try {
        await member.pause();
        const probe = fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(300) });
        await expect(probe).rejects.toThrow();
        member.resume();
        const res = await fetch(`${member.clientUrl}/health`, {
          signal: AbortSignal.timeout(2000),
        });
        expect(res.ok).toBe(true);
        await member.pause();
      } finally {
        await member.stop({ timeoutMs: 3000 });
      }
      expect(isAlive(member.pid)).toBe(false);
    });
  });

  it('resolves pause() only once the kernel shows the process stopped (state T)', async () => {
    await withTempDir(async dir => {
      const member = await startEtcdMember({ name: 'stopped', dataDir: join(dir, 'data') });
      const state = () => {
        const stat = readFileSync(`/proc/${member.pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      };
      try {
        // SIGSTOP is delivered asynchronously; read the state the moment pause() resolves.
        const seen: string[] = [];
        for (let i = 0; i < 20; i++) {
          await member.pause();
          seen.push(state());
          member.resume();
        }
        expect(seen).toEqual(Array.from({ length: 20 }, () => 'T'));
      } finally {
        await member.stop({ timeoutMs: 3000 });
      }
    });
  });

  it('rejects with etcd output and kills the process when etcd exits before ready', async () => {
    await withTempDir(async dir => {
      // Holds the port etcd wants; readiness probes that reach it are hung up on at once.
      const taken = createServer(socket => socket.destroy());
      await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      const dataDir = join(dir, 'clash');
      try {
        const started = Date.now();
        await expect(
          startEtcdMember({ name: 'clash', dataDir, clientPort: port, readyTimeoutMs: 10_000 }),
        ).rejects.toThrow(/address already in use/);
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(pidsMentioning(dataDir)).toEqual([]);
      } finally {
        await new Promise(resolve => taken.close(resolve));
      }
    });
  });

  it('forms a 3-member cluster that keeps serving writes after its leader is killed', async () => {
    await withTempDir(async dir => {
      let cluster: EtcdCluster | undefined;
      try {
        cluster = await startEtcdCluster({
          size: 3,
          baseDir: dir,
          heartbeatMs: 50,
          electionMs: 500,
        });
        expect(cluster.members).toHaveLength(3);
        expect(cluster.endpoints).toEqual(cluster.members.map(m => m.clientUrl));
        const leader = await cluster.leader();
        expect(cluster.members).toContain(leader);

        await leader.kill();
        expect(isAlive(leader.pid)).toBe(false);
        const survivors = cluster.members.filter(m => m !== leader);
        const hosts = survivors.map(m => m.clientUrl);
        expect(await eventually(() => putThenGet(hosts, 'after-failover', 'ok'), 15_000)).toBe(
          'ok',
        );
        const next = await cluster.leader({ timeoutMs: 10_000 });
        expect(survivors).toContain(next);
      } finally {
        await cluster?.stop();
      }
      for (const member of cluster.members) expect(isAlive(member.pid)).toBe(false);
    });
  });

  it('restarts a killed cluster member that rejoins the cluster', async () => {
    await withTempDir(async dir => {
      let cluster: EtcdCluster | undefined;
      try {
        cluster = await startEtcdCluster({
          size: 3,
          baseDir: dir,
          heartbeatMs: 50,
          electionMs: 500,
        });
        const victim = cluster.members[2];
        if (victim === undefined) throw new Error('cluster has no third member');
        await victim.kill();
        await eventually(
          () => putThenGet(cluster?.endpoints.slice(0, 2) ?? [], 'while-down', 'x'),
          15_000,
        );
        const back = await victim.restart();
        expect(cluster.members[2]).toBe(back);
        expect(await eventually(() => getString([back.clientUrl], 'while-down'), 15_000)).toBe('x');
      } finally {
        await cluster?.stop();
      }
      for (const member of cluster.members) expect(isAlive(member.pid)).toBe(false);
    });
  });
});
