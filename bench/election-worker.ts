/**
 * A dispatch worker for the failover benchmark (run as a child process so it can be SIGKILLed).
 * It campaigns (waiting up to WORKER_WAIT_MS), prints `LEADING <token>` once elected, then keeps
 * its term alive every TTL/3 until WORKER_LIFETIME_MS passes. Lines on stdout: CAMPAIGNING,
 * LEADING, LOST, FAILED.
 */
import { HttpJson, stringField } from './http-client.js';

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};

const url = env('WORKER_URL');
const election = env('WORKER_ELECTION');
const candidate = env('WORKER_CANDIDATE');
const ttlSeconds = Number(env('WORKER_TTL_S', '2'));
const waitMs = Number(env('WORKER_WAIT_MS', '15000'));
const lifetimeMs = Number(env('WORKER_LIFETIME_MS', '60000'));

const http = new HttpJson(url, 2);
const stopAt = performance.now() + lifetimeMs;
const path = `/v1/elections/${encodeURIComponent(election)}`;

process.stdout.write('CAMPAIGNING\n');
const res = await http.request('POST', `${path}/campaign`, {
  body: { candidate, ttlSeconds, waitMs },
  timeoutMs: waitMs + 10_000,
});
if (res.status !== 201) {
  process.stdout.write(`FAILED ${res.status} ${JSON.stringify(res.body)}\n`);
  http.close();
  process.exit(1);
}
const token = stringField(res.body, 'token');
const secret = stringField(res.body, 'secret');
process.stdout.write(`LEADING ${token}\n`);

const intervalMs = Math.floor((ttlSeconds * 1000) / 3);
while (performance.now() < stopAt) {
  await new Promise(resolve => setTimeout(resolve, intervalMs));
  const kept = await http
    .request('POST', `${path}/leaders/${token}/keepalive`, {
      bearer: secret,
      timeoutMs: intervalMs,
    })
    .catch(() => undefined);
  if (kept?.status !== 200) {
    process.stdout.write(`LOST ${kept?.status ?? 'timeout'}\n`);
    break;
  }
}
await http.request('DELETE', `${path}/leaders/${token}`, { bearer: secret }).catch(() => undefined);
http.close();
