/** Build info for slotlock_build_info, logs and the status page. */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { buildInfo, replicaId } from '../src/build-info.js';
import { createMetrics, initMetricSeries } from '../src/metrics.js';

describe('build info', () => {
  it('takes the commit from SLOTLOCK_COMMIT, else reports unknown without a build file', () => {
    expect(buildInfo({ SLOTLOCK_COMMIT: 'abc123' })).toMatchObject({ commit: 'abc123' });
    // Run from src/ (tsx): no build-info.json beside it.
    expect(buildInfo({})).toMatchObject({ commit: 'unknown' });
    expect(buildInfo({}).version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exports slotlock_build_info 1 with version and commit labels', async () => {
    const m = createMetrics({ defaultMetrics: false });
    initMetricSeries(m);
    const text = await m.registry.getSingleMetricAsString('slotlock_build_info');
    expect(text).toMatch(/^slotlock_build_info\{version="\d+\.\d+\.\d+[^"]*",commit="[^"]+"\} 1$/m);
  });

  it('names the replica REPLICA_ID, else the host name', () => {
    expect(replicaId('pod-7')).toBe('pod-7');
    expect(replicaId(undefined)).toBe(hostname());
  });
});
