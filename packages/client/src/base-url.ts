/** Where the service is: the `url` option or `SLOTLOCK_URL`, checked once at construction. */
import { SlotlockError } from './errors.js';

/**
 * The base URL of the service: `url`, or `SLOTLOCK_URL` when absent, without trailing slashes.
 * Throws a {@link SlotlockError} `invalid_options` when there is none or it has no http(s) scheme.
 */
export function resolveBaseUrl(url: string | undefined): string {
  const raw = url ?? process.env.SLOTLOCK_URL;
  if (raw === undefined || raw === '') {
    throw invalidOptions('no slotlock URL: pass `url` or set SLOTLOCK_URL');
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw invalidOptions(
      `the slotlock URL "${raw}" must start with http:// or https:// (e.g. http://${raw})`,
    );
  }
  return raw.replace(/\/+$/, '');
}

function invalidOptions(detail: string): SlotlockError {
  return new SlotlockError({ code: 'invalid_options', status: 0, detail });
}
