/**
 * slotlock client (`@slotlock/client`): dispatch-slot grants with fencing tokens, sessions and
 * leader election over the slotlock REST API. Imports nothing from the server.
 *
 * ```ts
 * const slots = new SlotClient({ url: 'http://127.0.0.1:8080' });
 * await slots.withSlot({ slot: 'driver:42', holder: 'dispatcher-7', waitMs: 5000 }, async grant => {
 *   await assign(order, { fencingToken: grant.token, signal: grant.signal });
 * });
 * ```
 */
export { SlotClient, type AcquireOptions } from './slots.js';
export { Grant, type GrantBody } from './grant.js';
export {
  Bundle,
  BundleClient,
  type BundleBody,
  type BundleOptions,
  type BundleSlotOptions,
} from './bundles.js';
export { Session, type SessionBody } from './session.js';
export type {
  ForcedRelease,
  QueuePosition,
  SlotHolder,
  SlotList,
  SlotView,
  TokenCheck,
} from './slot-views.js';
export { ElectionClient, type CampaignOptions } from './election.js';
export { lead, type LeadOptions, type LeaderFunction } from './lead.js';
export { Leadership, type CampaignBody } from './leadership.js';
export type { Leader, LeaderChange, ObserveOptions } from './leader-stream.js';
export type { ClientOptions } from './options.js';
export type { RetryOptions } from './backoff.js';
export type { Credential, FetchLike, HttpOptions } from './http.js';
export {
  SlotlockError,
  clientErrorCodes,
  isLoss,
  isSlotlockError,
  isTransient,
  serverErrorCodes,
  type ProblemDetails,
  type SlotlockErrorCode,
} from './errors.js';
export {
  MonotonicDeadline,
  defaultMarginMs,
  localDeadline,
  monotonicNow,
} from './monotonic-deadline.js';
export {
  FencingClient,
  StaleTokenError,
  type FencedValue,
  type FencedWriteOptions,
  type FencedWriteResult,
  type FencingClientOptions,
  type StaleReportOptions,
} from './fencing.js';
