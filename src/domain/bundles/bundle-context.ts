import type { KeyLayout } from '../../etcd/keys.js';
import type { SemaphoreContext } from '../slots/semaphore-context.js';

/** What the bundle verbs share: the slot semaphore's context (queues, watch, cleanup) and keys. */
export interface BundleContext extends SemaphoreContext {
  keys: KeyLayout;
  /** At most this many slots in one bundle. */
  maxSlots: number;
}
