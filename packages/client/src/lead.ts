/**
 * `lead()`: run a function whenever this process leads an election, in the manner of Curator's
 * LeaderSelector: campaign, run, re-campaign when the function returns or leadership is lost,
 * resign when the caller aborts.
 */
import { isAborted } from './backoff.js';
import type { CampaignOptions, ElectionClient } from './election.js';
import type { Leadership } from './leadership.js';

/** What to lead, and until when. */
export interface LeadOptions extends Omit<CampaignOptions, 'signal'> {
  /** Stops leading: the campaign is withdrawn or the term resigned, then `lead()` resolves. */
  signal?: AbortSignal;
}

/**
 * The caller's work for one term. `lost` aborts when the term is lost (or the caller aborts):
 * stop writing then, and return. Stamp every write with `term.token` and call
 * `term.assertHeld()` right before it.
 */
export type LeaderFunction = (term: Leadership, lost: AbortSignal) => Promise<void>;

/**
 * Campaigns until elected, runs `fn` with the term, and when `fn` returns or the term is lost,
 * resigns (a no-op after a loss) and campaigns again, until `signal` aborts. Resolves once
 * `signal` aborted and the current term, if any, was resigned. Rejects with the error when the
 * campaign fails for good (e.g. `invalid_input`), when `fn` throws while still leading (the term
 * is resigned first), or when resigning a term that was not lost fails. A throw from `fn` after
 * the term was lost counts as the end of that term, not as a failure.
 */
export async function lead(
  elections: ElectionClient,
  opts: LeadOptions,
  fn: LeaderFunction,
): Promise<void> {
  const { signal, ...campaign } = opts;
  while (!isAborted(signal)) {
    let term: Leadership;
    try {
      term = await elections.campaign(signal === undefined ? campaign : { ...campaign, signal });
    } catch (err) {
      if (isAborted(signal)) return;
      throw err;
    }
    await runTerm(term, signal, fn);
  }
}

async function runTerm(
  term: Leadership,
  signal: AbortSignal | undefined,
  fn: LeaderFunction,
): Promise<void> {
  const lost = signal === undefined ? term.signal : AbortSignal.any([term.signal, signal]);
  let failure: { err: unknown } | undefined;
  try {
    await fn(term, lost);
  } catch (err) {
    if (!lost.aborted) failure = { err };
  }
  const lostFirst = term.signal.aborted;
  try {
    await term.resign();
  } catch (err) {
    // After a loss the resign is only a courtesy (the term's lease expires on its own).
    if (!lostFirst) failure ??= { err };
  }
  if (failure !== undefined) throw failure.err;
}
