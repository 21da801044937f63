/**
 * Advances etcd's revision past a given revision, after a restore from a snapshot:
 *
 *   npx tsx scripts/advance-etcd-revision.ts --endpoints http://etcd-0:2379 --past 123456
 *
 * `--past`: the highest revision slotlock saw before the restore (max of the
 * `slotlock_etcd_revision` gauge over replicas, or what `/v1/...` 503 etcd_restored answers name).
 * Honours ETCD_ENDPOINTS, ETCD_USERNAME/ETCD_PASSWORD and ETCD_CA_FILE/CERT/KEY like the service.
 */
import { parseArgs } from 'node:util';
import { advanceRevision } from '../src/etcd/advance-revision.js';
import { connectEtcd } from '../src/etcd/client.js';

const { values } = parseArgs({
  options: { endpoints: { type: 'string' }, past: { type: 'string' } },
});
const endpoints = (values.endpoints ?? process.env.ETCD_ENDPOINTS ?? '').split(',').filter(Boolean);
if (endpoints.length === 0 || values.past === undefined || !/^\d+$/.test(values.past)) {
  console.error('usage: advance-etcd-revision --endpoints <url,...> --past <revision>');
  process.exit(2);
}
const client = connectEtcd({
  endpoints,
  callTimeoutMs: 10_000,
  retryAfterS: 1,
  username: process.env.ETCD_USERNAME,
  password: process.env.ETCD_PASSWORD,
  caFile: process.env.ETCD_CA_FILE,
  certFile: process.env.ETCD_CERT_FILE,
  keyFile: process.env.ETCD_KEY_FILE,
});
try {
  const revision = await advanceRevision(client, BigInt(values.past));
  console.log(`etcd's revision is now ${revision}`);
} finally {
  client.close();
}
