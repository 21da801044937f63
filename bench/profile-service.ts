/**
 * Profiles the service's hot paths: a second slotlock child (own key prefix, same etcd) runs under
 * `--cpu-prof`; the bench drives uncontended session cycles at concurrency 64, then contended
 * handover with 64 waiters, marking each measured window on CLOCK_MONOTONIC. The child is stopped
 * with SIGTERM (a clean exit writes the profile) and each window is summarised separately.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  monotonicUs,
  summarizeProfile,
  type ProfileSummary,
  type ProfileWindow,
} from './cpu-profile.js';
import { warmedLoop, type Phase, type Probe } from './load.js';
import { repoRoot, startService, type Child } from './procs.js';
import { contended, prepareUncontended } from './slotlock-http.js';

export interface ServiceProfiles {
  /** Uncontended session cycles, one client (the latency path: every request wakes the loop). */
  serial: ProfileSummary;
  /** Uncontended session cycles, 64 clients on distinct slots. */
  uncontended: ProfileSummary;
  /** 64 clients handing one slot over in wait mode. */
  contended: ProfileSummary;
  /** Cycles and handovers per second while profiled (the profiler itself costs some). */
  rates: { serial: number; uncontended: number; contended: number };
}

function windowProbe(): { window: ProfileWindow; probe: Probe } {
  const window: ProfileWindow = { fromUs: 0, toUs: 0 };
  const probe: Probe = {
    start: () => {
      window.fromUs = monotonicUs();
      return Promise.resolve();
    },
    end: () => {
      window.toUs = monotonicUs();
      return Promise.resolve();
    },
  };
  return { window, probe };
}

export async function profileService(o: {
  etcdUrl: string;
  dir: string;
  stamp: string;
  tag: string;
  phase: Phase;
  contendedPhase: Phase;
  children: Child[];
}): Promise<ServiceProfiles> {
  const profDir = join(repoRoot, 'bench', 'results', `profile-${o.stamp}`);
  await mkdir(profDir, { recursive: true });
  const service = await startService({
    etcdUrl: o.etcdUrl,
    dir: o.dir,
    name: 'slotlock-profiled',
    prefix: 'slotprof/',
    cpuProfDir: profDir,
  });
  o.children.push(service);
  const one = windowProbe();
  const u = windowProbe();
  const c = windowProbe();
  const rates = { serial: Number.NaN, uncontended: Number.NaN, contended: Number.NaN };
  try {
    const serial = await prepareUncontended(service.url, 'session', 1, `${o.tag}-prof1`);
    try {
      const r = await warmedLoop({ ...o.phase, concurrency: 1 }, serial.op, one.probe);
      rates.serial = r.opsPerS;
    } finally {
      await serial.close();
    }
    const runner = await prepareUncontended(service.url, 'session', 64, `${o.tag}-prof`);
    try {
      const r = await warmedLoop({ ...o.phase, concurrency: 64 }, runner.op, u.probe);
      rates.uncontended = r.opsPerS;
    } finally {
      await runner.close();
    }
    const h = await contended(
      service.url,
      { clients: 64, capacity: 1, mode: 'session', phase: o.contendedPhase, slot: `${o.tag}-prof` },
      c.probe,
    );
    rates.contended = h.loop.opsPerS;
  } finally {
    await service.stop({ graceMs: 15_000 });
  }
  // One file per thread (tsx adds a loader thread): the main thread has thread id 0.
  const file = (await readdir(profDir)).find(f => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (file === undefined) throw new Error(`no main-thread .cpuprofile written in ${profDir}`);
  const path = join(profDir, file);
  return {
    serial: await summarizeProfile(path, 25, one.window),
    uncontended: await summarizeProfile(path, 25, u.window),
    contended: await summarizeProfile(path, 25, c.window),
    rates,
  };
}
