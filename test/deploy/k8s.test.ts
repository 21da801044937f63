import { readdirSync, readFileSync } from 'node:fs';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import {
  PodDisruptionBudget,
  type IPodDisruptionBudget,
} from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import {
  PrometheusRule,
  type IPrometheusRule,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import {
  ServiceMonitor,
  type IServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { slotlockDashboard } from '../../deploy/grafana/dashboard.js';
import { loadRulesFile, repoPath, run, which } from './deploy-support.js';

const k8sDir = repoPath('deploy/k8s');
/** Each overlay, with the directories whose files it must list (itself; plain also the base). */
const overlays = {
  plain: ['base', 'overlays/plain'],
  monitoring: ['overlays/monitoring'],
} as const;
const etcdImage = 'gcr.io/etcd-development/etcd:v3.5.17';
const recommendedLabels = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
];

function kustomization(dir: string): { resources: string[]; images?: unknown[] } {
  return parse(readFileSync(`${k8sDir}/${dir}/kustomization.yaml`, 'utf8')) as {
    resources: string[];
    images?: unknown[];
  };
}

function parseDocs(text: string, source: string): unknown[] {
  return parseAllDocuments(text).map(doc => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.join('; ')}`);
    return doc.toJS() as unknown;
  });
}

/** `kubectl kustomize` of one overlay: what `kubectl apply -k` would send. */
function render(overlay: keyof typeof overlays): unknown[] {
  const kubectl = which('kubectl');
  if (kubectl === undefined) throw new Error('kubectl is needed to render the overlays');
  const result = run(kubectl, ['kustomize', `${k8sDir}/overlays/${overlay}`], 60_000);
  if (result.status !== 0) throw new Error(result.output);
  return parseDocs(result.stdout, `kubectl kustomize overlays/${overlay}`);
}

/** Validates a document against its kubernetes-models schema; returns its kind. */
function validate(doc: unknown): string {
  if (Deployment.is(doc)) new Deployment(doc).validate();
  else if (StatefulSet.is(doc)) new StatefulSet(doc).validate();
  else if (Service.is(doc)) new Service(doc).validate();
  else if (ConfigMap.is(doc)) new ConfigMap(doc).validate();
  else if (PodDisruptionBudget.is(doc)) new PodDisruptionBudget(doc).validate();
  else if (NetworkPolicy.is(doc)) new NetworkPolicy(doc).validate();
  else if (CronJob.is(doc)) new CronJob(doc).validate();
  else if (PersistentVolumeClaim.is(doc)) new PersistentVolumeClaim(doc).validate();
  else if (ServiceMonitor.is(doc)) new ServiceMonitor(doc).validate();
  else if (PrometheusRule.is(doc)) new PrometheusRule(doc).validate();
  else throw new Error(`no model for ${JSON.stringify(doc).slice(0, 200)}`);
  return (doc as { kind: string }).kind;
}

function only<T>(items: T[], what: string): T {
  expect(items, what).toHaveLength(1);
  return items[0] as T;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

function env(container: { env?: { name: string; value?: string }[] }, name: string): string {
  const value = container.env?.find(e => e.name === name)?.value;
  if (value === undefined) throw new Error(`env ${name} not set`);
  return value;
}

const plainKinds = [
  'CronJob',
  'Deployment',
  'NetworkPolicy',
  'NetworkPolicy',
  'PersistentVolumeClaim',
  'PodDisruptionBudget',
  'PodDisruptionBudget',
  'Service',
  'Service',
  'StatefulSet',
];

describe('deploy/k8s overlays', () => {
  let plain: unknown[] = [];
  let monitoring: unknown[] = [];
  beforeAll(() => {
    plain = render('plain');
    monitoring = render('monitoring');
  }, 90_000);

  it('lists every manifest file of the base and of each overlay', () => {
    for (const dir of Object.values(overlays).flat()) {
      const files = readdirSync(`${k8sDir}/${dir}`).filter(
        f => f.endsWith('.yaml') && f !== 'kustomization.yaml',
      );
      const listed = kustomization(dir).resources.filter(r => !r.startsWith('..'));
      expect(listed.sort(), dir).toEqual(files.sort());
    }
  });

  it('validates the plain overlay against the Kubernetes schemas, with no operator CRD in it', () => {
    expect(plain.map(validate).sort()).toEqual(plainKinds);
  });

  it('validates the monitoring overlay against the Kubernetes and Prometheus Operator schemas', () => {
    expect(monitoring.map(validate).sort()).toEqual(
      [...plainKinds, 'ConfigMap', 'PrometheusRule', 'ServiceMonitor'].sort(),
    );
  });

  it('sets the slotlock image in one place, fully qualified and pinned', () => {
    const withImages = ['base', 'overlays/plain', 'overlays/monitoring'].filter(
      dir => kustomization(dir).images !== undefined,
    );
    expect(withImages).toEqual(['base']);
    for (const docs of [plain, monitoring]) {
      const deployment = only(docs.filter(Deployment.is), 'Deployments');
      const image = deployment.spec?.template.spec?.containers[0]?.image ?? '';
      // registry host (with a dot) / path : tag, never a bare name Docker Hub would be asked for.
      expect(image).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?\/[a-z0-9._/-]+:[0-9][\w.-]*$/);
    }
  });

  it('lets only labelled client pods and namespaces, and the monitoring namespace, call the API', () => {
    const deployment = only(plain.filter(Deployment.is), 'Deployments');
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};
    const policy = only(
      plain
        .filter(NetworkPolicy.is)
        .filter(p => selects(p.spec?.podSelector?.matchLabels, podLabels)),
      'slotlock NetworkPolicies',
    );
    expect(policy.spec?.policyTypes).toEqual(['Ingress']);
    const peers = (policy.spec?.ingress ?? []).flatMap(rule => rule.from ?? []);
    expect(peers.length).toBeGreaterThan(0);
    // No rule admits everyone: each peer names labels to match.
    for (const peer of peers) {
      const labels = {
        ...peer.podSelector?.matchLabels,
        ...peer.namespaceSelector?.matchLabels,
      };
      expect(Object.keys(labels).length, JSON.stringify(peer)).toBeGreaterThan(0);
    }
  });

  it('snapshots etcd daily into its own volume, which etcd admits on the client port', () => {
    const job = only(plain.filter(CronJob.is), 'CronJobs');
    const pod = job.spec.jobTemplate.spec?.template.spec;
    const snapshot = only(pod?.initContainers ?? [], 'snapshot containers');
    expect(snapshot.args).toEqual(expect.arrayContaining(['snapshot', 'save']));
    const claim = pod?.volumes?.find(v => v.persistentVolumeClaim)?.persistentVolumeClaim;
    const pvc = only(
      plain.filter(PersistentVolumeClaim.is).filter(p => p.metadata?.name === claim?.claimName),
      'backup PVCs',
    );
    expect(pvc.spec?.resources?.requests?.storage).toBeDefined();
    const jobLabels = job.spec.jobTemplate.spec?.template.metadata?.labels ?? {};
    const etcdPolicy = only(
      plain.filter(NetworkPolicy.is).filter(p => p.metadata?.name === 'slotlock-etcd'),
      'etcd NetworkPolicies',
    );
    const admitted = (etcdPolicy.spec?.ingress ?? [])
      .filter(rule => rule.ports?.some(p => p.port === 'client'))
      .flatMap(rule => rule.from ?? [])
      .some(peer => selects(peer.podSelector?.matchLabels, jobLabels));
    expect(admitted).toBe(true);
  });

  it('gives etcd a volume with room beyond its backend quota (WAL, snapshots, defrag copy)', () => {
    const sts = only(plain.filter(StatefulSet.is), 'StatefulSets');
    const args = sts.spec?.template.spec?.containers[0]?.args ?? [];
    const quota = Number(
      /^--quota-backend-bytes=(\d+)$/.exec(
        args.find(a => a.startsWith('--quota-backend-bytes=')) ?? '',
      )?.[1],
    );
    const storage = String(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage);
    const gi = Number(/^(\d+)Gi$/.exec(storage)?.[1]) * 2 ** 30;
    expect(quota).toBeGreaterThan(0);
    expect(gi).toBeGreaterThanOrEqual(3 * quota);
  });
});

describe('deploy/k8s monitoring overlay', () => {
  let docs: unknown[] = [];
  let deployment: IDeployment;
  let statefulSet: IStatefulSet;
  let services: IService[];
  let pdbs: IPodDisruptionBudget[];

  beforeAll(() => {
    docs = render('monitoring');
    deployment = only(docs.filter(Deployment.is), 'Deployments');
    statefulSet = only(docs.filter(StatefulSet.is), 'StatefulSets');
    services = docs.filter(Service.is);
    pdbs = docs.filter(PodDisruptionBudget.is);
  }, 90_000);

  it('puts the app.kubernetes.io labels on every object and pod template', () => {
    const labelled = docs.flatMap(doc => {
      const d = doc as {
        metadata: { name: string; labels?: Record<string, string> };
        spec?: { template?: { metadata?: { labels?: Record<string, string> } } };
      };
      return [
        [d.metadata.name, d.metadata.labels] as const,
        ...(d.spec?.template
          ? [[`${d.metadata.name} pods`, d.spec.template.metadata?.labels] as const]
          : []),
      ];
    });
    for (const [name, labels] of labelled) {
      for (const label of recommendedLabels) expect(labels, name).toHaveProperty([label]);
    }
  });

  it('runs at least two slotlock replicas that roll without losing capacity', () => {
    expect(deployment.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    const pdb = only(
      pdbs.filter(p =>
        selects(p.spec?.selector?.matchLabels, deployment.spec?.template.metadata?.labels ?? {}),
      ),
      'slotlock PDBs',
    );
    expect(pdb.spec?.maxUnavailable ?? pdb.spec?.minAvailable).toBeDefined();
  });

  it('probes slotlock on /livez and /readyz and drains within the grace period', () => {
    const pod = deployment.spec?.template.spec;
    const container = only(pod?.containers ?? [], 'slotlock containers');
    expect(container.startupProbe?.httpGet?.path).toBe('/livez');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.livenessProbe?.httpGet?.path).toBe('/livez');
    expect(container.ports).toContainEqual(expect.objectContaining({ name: 'http' }));
    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(preStop).toBe(5);
    const drain = Number(env(container, 'SHUTDOWN_GRACE_MS')) / 1000;
    const longPollCap = Number(env(container, 'WAIT_MAX_MS')) / 1000;
    expect(longPollCap).toBe(30);
    expect(pod?.terminationGracePeriodSeconds).toBeGreaterThan(preStop + drain + longPollCap);
  });

  it('runs slotlock and etcd as non-root with a read-only root and no capabilities', () => {
    const pods = [deployment.spec?.template.spec, statefulSet.spec?.template.spec];
    for (const pod of pods) {
      for (const container of pod?.containers ?? []) {
        const sc = container.securityContext;
        expect(sc?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot, container.name).toBe(true);
        expect(sc?.readOnlyRootFilesystem, container.name).toBe(true);
        expect(sc?.allowPrivilegeEscalation, container.name).toBe(false);
        expect(sc?.capabilities?.drop, container.name).toContain('ALL');
        expect(container.resources?.requests, container.name).toHaveProperty(['cpu']);
        expect(container.resources?.requests, container.name).toHaveProperty(['memory']);
        expect(container.resources?.limits, container.name).toHaveProperty(['memory']);
        expect(container.image, container.name).not.toMatch(/:latest$/);
      }
    }
  });

  it('runs a three-member etcd StatefulSet behind a headless Service', () => {
    const spec = statefulSet.spec;
    expect(spec?.replicas).toBe(3);
    expect(spec?.podManagementPolicy).toBe('Parallel');
    const headless = only(
      services.filter(s => s.metadata?.name === spec?.serviceName),
      'etcd headless Service',
    );
    expect(headless.spec?.clusterIP).toBe('None');
    expect(headless.spec?.publishNotReadyAddresses).toBe(true);
    expect(selects(headless.spec?.selector, spec?.template.metadata?.labels ?? {})).toBe(true);
    const claim = only(spec?.volumeClaimTemplates ?? [], 'volumeClaimTemplates');
    const container = only(spec?.template.spec?.containers ?? [], 'etcd containers');
    expect(container.image).toBe(etcdImage);
    expect(container.volumeMounts?.map(m => m.name)).toContain(claim.metadata?.name);
    const pdb = only(
      pdbs.filter(p =>
        selects(p.spec?.selector?.matchLabels, spec?.template.metadata?.labels ?? {}),
      ),
      'etcd PDBs',
    );
    expect(pdb.spec?.maxUnavailable).toBe(1);
  });

  it('bootstraps etcd from the members stable DNS names with pre-vote on', () => {
    const sts = statefulSet.metadata?.name ?? '';
    const svc = statefulSet.spec?.serviceName ?? '';
    const container = only(statefulSet.spec?.template.spec?.containers ?? [], 'etcd containers');
    const args = container.args ?? [];
    const members = [0, 1, 2].map(
      i => `${sts}-${i}=http://${sts}-${i}.${svc}.$(POD_NAMESPACE).svc:2380`,
    );
    expect(args).toContain(`--initial-cluster=${members.join(',')}`);
    expect(args).toContain('--initial-cluster-state=new');
    expect(args).toContain('--name=$(POD_NAME)');
    expect(args).toContain(
      `--initial-advertise-peer-urls=http://$(POD_NAME).${svc}.$(POD_NAMESPACE).svc:2380`,
    );
    expect(args).toContain('--pre-vote=true');
    const podName = container.env?.find(e => e.name === 'POD_NAME');
    expect(podName?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it('points slotlock at every etcd member', () => {
    const container = only(deployment.spec?.template.spec?.containers ?? [], 'slotlock containers');
    const sts = statefulSet.metadata?.name ?? '';
    const svc = statefulSet.spec?.serviceName ?? '';
    const expected = [0, 1, 2].map(i => `http://${sts}-${i}.${svc}:2379`);
    expect(env(container, 'ETCD_ENDPOINTS').split(',')).toEqual(expected);
  });

  it('exposes slotlock on a Service port named http, scraped by a ServiceMonitor', () => {
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};
    const service = only(
      services.filter(s => selects(s.spec?.selector, podLabels)),
      'slotlock Services',
    );
    // The Service name becomes the job label, which the rules select on (up{job="slotlock"}).
    expect(service.metadata?.name).toBe('slotlock');
    expect(service.spec?.ports?.map(p => p.name)).toContain('http');
    const monitor: IServiceMonitor = only(docs.filter(ServiceMonitor.is), 'ServiceMonitors');
    expect(monitor.metadata?.labels?.release).toBe('kube-prometheus-stack');
    expect(selects(monitor.spec.selector.matchLabels, service.metadata?.labels ?? {})).toBe(true);
    expect(monitor.spec.endpoints).toContainEqual(
      expect.objectContaining({ port: 'http', path: '/metrics' }),
    );
  });

  it('carries the same rule groups as deploy/prometheus/slotlock.rules.yaml', () => {
    const rule: IPrometheusRule = only(docs.filter(PrometheusRule.is), 'PrometheusRules');
    expect(rule.metadata?.labels?.release).toBe('kube-prometheus-stack');
    expect(rule.spec.groups, 'run: npx tsx scripts/gen-prometheus-rule.ts').toEqual(
      loadRulesFile().groups,
    );
  });

  it('ships the generated dashboard in a ConfigMap the Grafana sidecar picks up', () => {
    const configMap: IConfigMap = only(docs.filter(ConfigMap.is), 'ConfigMaps');
    expect(configMap.metadata?.labels?.grafana_dashboard).toBe('1');
    const json = only(Object.values(configMap.data ?? {}), 'dashboard files');
    expect(JSON.parse(json), 'run: npx tsx scripts/gen-dashboard.ts').toEqual(slotlockDashboard());
  });
});
