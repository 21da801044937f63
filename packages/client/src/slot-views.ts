/** Read-only views of slots as the REST API returns them. Tokens and revisions are decimal strings. */

/** One current holder of a slot. */
export interface SlotHolder {
  holder: string;
  /** Fencing token of the holder's grant. */
  token: string;
  /** Time left on the holder's lease as seen by the server, or null if unknown. */
  expiresInMs: number | null;
  session: boolean;
}

/** `GET /v1/slots/{slot}`: holders, waiters and the last clean release, read linearizably. */
export interface SlotView {
  slot: string;
  /** Capacity the slot was created with, or null when nobody holds or waits. */
  capacity: number | null;
  holders: SlotHolder[];
  waiting: number;
  lastReleasedToken: string | null;
  /** etcd revision the view was read at. */
  revision: string;
}

/** `GET /v1/slots`: slots with at least one holder or waiter. */
export interface SlotList {
  slots: { slot: string; contenders: number }[];
  /** True when `limit` cut the list short. */
  truncated: boolean;
}

/** `GET /v1/slots/{slot}/tokens/{token}`: whether a fencing token is still current. */
export interface TokenCheck {
  slot: string;
  token: string;
  /** True if the token belongs to one of the slot's current grants. */
  current: boolean;
  highestToken: string | null;
  revision: string;
}

/** The answer of an admin force-release: which grant was ended, and whose it was. */
export interface ForcedRelease {
  slot: string;
  token: string;
  /** The holder the grant belonged to, or null if unknown. */
  holder: string | null;
  session: boolean;
}

/** `GET /v1/slots/{slot}/queue`: where an acquire (found by its Idempotency-Key) stands. */
export interface QueuePosition {
  slot: string;
  /** 0-based position among the slot's contenders; below `capacity` means holding. */
  position: number;
  holding: boolean;
  token: string;
  capacity: number;
}
