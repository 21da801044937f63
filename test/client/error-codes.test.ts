import { describe, expect, it } from 'vitest';
import { serverErrorCodes } from '@slotlock/client';
import { errorCodes } from '../../src/error-codes.js';

describe('the client copy of the error codes', () => {
  it('lists exactly the codes the server can send', () => {
    // The client package keeps its own copy (it imports nothing from the server); this keeps
    // the two lists from drifting. Add a new server code to packages/client/src/error-codes.ts.
    expect([...serverErrorCodes].sort()).toEqual([...errorCodes].sort());
  });
});
