import type { KeyLayout } from '../../etcd/keys.js';
import type { SemaphoreContext } from '../slots/semaphore-context.js';

/** What the bundle verbs share: the slot semaphore's context (queues, watch, cleanup) and keys. */
export interface BundleContext extends SemaphoreContext {
  keys: KeyLayout;
  /** At most this many slots in one bundle. */
  maxSlots: number;
}

/** Options of the verbs on an existing bundle. */
export interface BundleCallOptions {
  signal?: AbortSignal | undefined;
  /** Called with the bundle's slots once it is found; throws to refuse (e.g. permissions). */
  allow?: ((slots: readonly string[]) => void) | undefined;
}
