/** The chaos scenarios: which fault, how much workload, and the two tiers that run them. */

export type FaultKind =
  | 'none'
  | 'kill-member'
  | 'pause-member'
  | 'isolate-member'
  | 'kill-replica'
  | 'pause-client'
  | 'lease-expiry-wait'
  | 'drop-watch-streams'
  | 'compaction'
  | 'isolate-watched-member'
  | 'lose-answers'
  | 'nospace';

export interface ScenarioSpec {
  /** Short id: names the scenario's slots and elections and its artifact directory. */
  id: string;
  fault: FaultKind;
  /** Which etcd member the fault hits (member faults only). */
  target?: 'leader' | 'follower';
  /** How long the fault lasts: down time, pause or isolation (timer-driven by design). */
  faultMs: number;
  clients: number;
  /** How long each client runs its workload. */
  workloadMs: number;
  /** Grants (and elections) seen before the fault is injected. */
  warmupGrants: number;
  ttlS: number;
  waitMs: number;
  electionShare: number;
}

export type UnsafeMode = 'skip-recheck' | 'grant-without-head';

export interface SuiteSpec {
  runDir: string;
  /** Run inside a private network namespace with nft isolation (else peer proxies isolate). */
  netns: boolean;
  /** A deliberately broken service (negative controls); never set outside tests. */
  unsafeMode?: UnsafeMode | undefined;
  heartbeatMs: number;
  electionMs: number;
  scenarios: ScenarioSpec[];
}

/** A human-readable name of a scenario's fault. */
export function faultLabel(s: ScenarioSpec): string {
  switch (s.fault) {
    case 'none':
      return 'none (baseline)';
    case 'kill-member':
      return `SIGKILL etcd ${s.target ?? 'leader'}, restart after ${s.faultMs / 1000} s`;
    case 'pause-member':
      return `SIGSTOP etcd ${s.target ?? 'leader'} for ${s.faultMs / 1000} s`;
    case 'isolate-member':
      return `isolate etcd ${s.target ?? 'leader'} from its peers for ${s.faultMs / 1000} s`;
    case 'kill-replica':
      return `SIGKILL slotlock replica s1, restart after ${s.faultMs / 1000} s`;
    case 'pause-client':
      return 'SIGSTOP a holder past its TTL, then resume it';
    case 'lease-expiry-wait':
      return "waiter's lease expires / is revoked while its replica is paused";
    case 'drop-watch-streams':
      return `drop every etcd connection of replica s1, 6 times in ${s.faultMs / 1000} s`;
    case 'compaction':
      return 'compact etcd past s1 while it is cut off (twice), auto-compaction in between';
    case 'isolate-watched-member':
      return `isolate the etcd follower s1 watches through for ${s.faultMs / 1000} s`;
    case 'lose-answers':
      return `lose etcd's next answer to s1 after commit, 16 times in ${s.faultMs / 1000} s`;
    case 'nospace':
      return `etcd NOSPACE alarm for ${s.faultMs / 1000} s, then disarm, compact, defrag`;
  }
}

const base = {
  faultMs: 3000,
  clients: 4,
  workloadMs: 10_000,
  warmupGrants: 8,
  ttlS: 2,
  waitMs: 2000,
  electionShare: 0.25,
};

/** Tier 1: short scenarios that run in `npm test`. */
export const tier1: ScenarioSpec[] = [
  { ...base, id: 'leader-kill', fault: 'kill-member', target: 'leader', faultMs: 2000 },
  { ...base, id: 'follower-kill', fault: 'kill-member', target: 'follower', faultMs: 2000 },
  { ...base, id: 'leader-pause', fault: 'pause-member', target: 'leader' },
  { ...base, id: 'replica-kill', fault: 'kill-replica' },
  { ...base, id: 'client-pause', fault: 'pause-client' },
  { ...base, id: 'lease-expiry-wait', fault: 'lease-expiry-wait', workloadMs: 8000 },
  { ...base, id: 'watch-drop', fault: 'drop-watch-streams', workloadMs: 8000 },
  { ...base, id: 'compaction', fault: 'compaction', workloadMs: 8000 },
  // etcd cancels a hasleader watch after ~3 election timeouts (1 s) without a leader: 7 s covers it.
  { ...base, id: 'watched-isolate', fault: 'isolate-watched-member', faultMs: 7000 },
  { ...base, id: 'lost-answers', fault: 'lose-answers', workloadMs: 8000 },
  { ...base, id: 'nospace', fault: 'nospace', workloadMs: 8000 },
];

const long = { ...base, clients: 5, workloadMs: 30_000, warmupGrants: 20, faultMs: 5000 };

/** The long tier (`npm run test:chaos`): every scenario, longer. */
export const longTier: ScenarioSpec[] = [
  { ...long, id: 'baseline', fault: 'none' },
  { ...long, id: 'leader-kill', fault: 'kill-member', target: 'leader' },
  { ...long, id: 'follower-kill', fault: 'kill-member', target: 'follower' },
  { ...long, id: 'leader-pause', fault: 'pause-member', target: 'leader' },
  { ...long, id: 'follower-pause', fault: 'pause-member', target: 'follower' },
  { ...long, id: 'leader-isolate', fault: 'isolate-member', target: 'leader' },
  { ...long, id: 'follower-isolate', fault: 'isolate-member', target: 'follower' },
  { ...long, id: 'replica-kill', fault: 'kill-replica' },
  { ...long, id: 'client-pause', fault: 'pause-client' },
  { ...long, id: 'lease-expiry-wait', fault: 'lease-expiry-wait' },
  { ...long, id: 'watch-drop', fault: 'drop-watch-streams', faultMs: 12_000 },
  { ...long, id: 'compaction', fault: 'compaction', faultMs: 12_000 },
  { ...long, id: 'watched-isolate', fault: 'isolate-watched-member', faultMs: 12_000 },
  { ...long, id: 'lost-answers', fault: 'lose-answers', faultMs: 12_000 },
  { ...long, id: 'nospace', fault: 'nospace', faultMs: 8000 },
];

/** The scenario each broken mode must fail. */
export function negativeControl(mode: UnsafeMode, long = false): ScenarioSpec {
  const spec = { ...base, workloadMs: long ? 20_000 : 8000 };
  return mode === 'skip-recheck'
    ? { ...spec, id: 'neg-skip-recheck', fault: 'lease-expiry-wait' }
    : { ...spec, id: 'neg-grant-without-head', fault: 'none' };
}
