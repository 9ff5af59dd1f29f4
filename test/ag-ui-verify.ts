/** AG-UI's own client-side check of a stream (`verifyEvents` of `@ag-ui/client`), for the AG-UI tests. */
import { verifyEvents } from '@ag-ui/client';
import type { AGUIEvent, BaseEvent } from '@ag-ui/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { expect } from 'vitest';

/** The events through the check, which throws at the first event a client would refuse; returns them. */
export async function verified(events: readonly AGUIEvent[]): Promise<readonly AGUIEvent[]> {
  const passed = await lastValueFrom(verifyEvents()(from(events)).pipe(toArray<BaseEvent>()));
  // The check passes each event through as it is.
  expect(passed).toEqual(events);
  return events;
}
