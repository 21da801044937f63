/**
 * A chaos client process: `node --import tsx client-main.ts '<ClientConfig JSON>'`. It prints one
 * JSON line per event (ready, granted, elected, done) and appends its history to the config's file.
 * SIGTERM ends it after the current cycle.
 */
import { Workload, type ClientConfig } from './workload.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ClientConfig;
const emit = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...event, proc: config.proc, pid: process.pid })}\n`);
};
const workload = new Workload(config, emit);
process.once('SIGTERM', () => {
  workload.stop();
});
emit({ event: 'ready' });
await workload.run();
emit({ event: 'done' });
