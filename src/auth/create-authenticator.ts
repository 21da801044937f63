import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { noAuthentication, type Authenticator } from './authenticator.js';

/** The authenticator the configuration asks for ({@link noAuthentication} when none is set). */
export function createAuthenticator(_config: Config, _log: Logger): Authenticator {
  return noAuthentication;
}
