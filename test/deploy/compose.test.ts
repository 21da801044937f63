import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { repoPath, run, which } from './deploy-support.js';

const composePath = repoPath('deploy/compose.yaml');
const etcdImage = 'gcr.io/etcd-development/etcd:v3.5.17';
const members = ['etcd1', 'etcd2', 'etcd3'];

const serviceSchema = z.looseObject({
  image: z.string().optional(),
  build: z.object({ context: z.string(), dockerfile: z.string().optional() }).optional(),
  init: z.boolean().optional(),
  environment: z.record(z.string(), z.string()).optional(),
  healthcheck: z.object({ test: z.array(z.string()) }).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  volumes: z.array(z.string()).optional(),
});
const composeSchema = z.looseObject({ services: z.record(z.string(), serviceSchema) });

/** The compose file with YAML merge keys (`<<: *etcd`) resolved, as Compose reads it. */
function loadCompose() {
  const doc: unknown = parse(readFileSync(composePath, 'utf8'), { merge: true });
  return { raw: doc as Record<string, unknown>, compose: composeSchema.parse(doc) };
}

function service(name: string) {
  const found = loadCompose().compose.services[name];
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
}

describe('deploy/compose.yaml', () => {
  it('passes docker-compose config -q when docker-compose is installed', ({ skip }) => {
    const dockerCompose = which('docker-compose');
    if (dockerCompose === undefined) {
      skip(
        'docker-compose is not installed (apt-get install docker-compose); structure is still checked below',
      );
      return;
    }
    const result = run(dockerCompose, ['-f', composePath, 'config', '-q'], 60_000);
    expect(result.status, result.output).toBe(0);
  });

  it('has no version key and exactly three etcd members plus slotlock, Prometheus and Grafana', () => {
    const { raw, compose } = loadCompose();
    expect(raw).not.toHaveProperty('version');
    expect(Object.keys(compose.services).sort()).toEqual(
      [...members, 'slotlock', 'prometheus', 'grafana'].sort(),
    );
  });

  it('runs Prometheus with the tested rule file, scraping slotlock as job "slotlock"', () => {
    const prometheus = service('prometheus');
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    const mount = prometheus.volumes?.find(v => v.endsWith(':/etc/prometheus:ro')) ?? '';
    const dir = path.resolve(path.dirname(composePath), mount.split(':')[0] ?? '');
    expect(dir).toBe(repoPath('deploy/prometheus'));
    const config = parse(readFileSync(`${dir}/prometheus.yml`, 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(config.rule_files).toEqual(['slotlock.rules.yaml']);
    const job = config.scrape_configs.find(c => c.job_name === 'slotlock');
    expect(job?.static_configs[0]?.targets).toEqual(['slotlock:8080']);
  });

  it('runs Grafana with a Prometheus data source and the generated dashboard provisioned', () => {
    const grafana = service('grafana');
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    const host = (target: string) => {
      const mount = grafana.volumes?.find(v => v.split(':')[1] === target) ?? '';
      return path.resolve(path.dirname(composePath), mount.split(':')[0] ?? '');
    };
    expect(host('/var/lib/grafana/dashboards/slotlock-dashboard.json')).toBe(
      repoPath('deploy/grafana/slotlock-dashboard.json'),
    );
    const provisioning = host('/etc/grafana/provisioning');
    const datasources = parse(
      readFileSync(`${provisioning}/datasources/prometheus.yaml`, 'utf8'),
    ) as { datasources: { type: string; url: string }[] };
    expect(datasources.datasources[0]).toMatchObject({
      type: 'prometheus',
      url: 'http://prometheus:9090',
    });
    const providers = parse(readFileSync(`${provisioning}/dashboards/slotlock.yaml`, 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(providers.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
  });

  it('runs every etcd member from one anchor with the pinned image and an etcdctl healthcheck', () => {
    const text = readFileSync(composePath, 'utf8');
    expect(text).toMatch(/^x-etcd: &etcd$/m);
    for (const name of members) {
      expect(text, name).toMatch(new RegExp(`^  ${name}:\\n    <<: \\*etcd$`, 'm'));
      const member = service(name);
      expect(member.image, name).toBe(etcdImage);
      expect(member.healthcheck?.test.join(' '), name).toMatch(/^CMD \S*etcdctl endpoint health$/);
      expect(member.volumes?.length, name).toBeGreaterThan(0);
    }
  });

  it('forms one cluster: each member advertises itself and lists all three', () => {
    const cluster = members.map(name => `${name}=http://${name}:2380`).join(',');
    for (const name of members) {
      const env = service(name).environment ?? {};
      expect(env.ETCD_NAME, name).toBe(name);
      expect(env.ETCD_INITIAL_CLUSTER, name).toBe(cluster);
      expect(env.ETCD_INITIAL_ADVERTISE_PEER_URLS, name).toBe(`http://${name}:2380`);
      expect(env.ETCD_ADVERTISE_CLIENT_URLS, name).toBe(`http://${name}:2379`);
      expect(env.ETCD_PRE_VOTE, name).toBe('true');
    }
  });

  it('builds slotlock from the repo Dockerfile, under an init, after etcd is healthy', () => {
    const slotlock = service('slotlock');
    const context = path.resolve(path.dirname(composePath), slotlock.build?.context ?? '');
    expect(context).toBe(path.resolve(repoPath('.')));
    const dockerfile = path.join(context, slotlock.build?.dockerfile ?? 'Dockerfile');
    expect(dockerfile).toBe(repoPath('Dockerfile'));
    if (!existsSync(dockerfile)) console.warn(`[compose.test] ${dockerfile} does not exist yet`);
    expect(slotlock.init).toBe(true);
    for (const name of members) {
      expect(slotlock.depends_on?.[name]?.condition, name).toBe('service_healthy');
    }
    expect(slotlock.environment?.ETCD_ENDPOINTS?.split(',')).toEqual(
      members.map(name => `http://${name}:2379`),
    );
  });
});
