/**
 * A batch sent after another one that is not stored (`AppendBatch.after`): part of the store contract
 * (server/core/store.ts). Answered PRECONDITION_FAILED with reason `out_of_order`; nothing of the batch was
 * stored, and the publisher sends it again once the batch ahead of it is.
 */
import { TRPCError } from '@trpc/server';
import { errorReasons } from '@switchboard/shared';
import { ReasonedError } from './errors.js';

export class OutOfOrderError extends TRPCError {
  constructor(after: string) {
    const message = `this batch follows key ${JSON.stringify(after)}, which is not stored; nothing was stored: send the batch with that key first`;
    super({ code: 'PRECONDITION_FAILED', message, cause: new ReasonedError(errorReasons.outOfOrder, message) });
    this.name = 'OutOfOrderError';
  }
}
