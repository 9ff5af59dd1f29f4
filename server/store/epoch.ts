/**
 * A new log's epoch (see shared/cursor.ts): 48 random bits as 12 hex digits. Two logs that share an epoch would
 * take each other's cursors as their own, so it is random rather than a clock or a counter, which a restored
 * machine or a second database could repeat.
 */
import { randomBytes } from 'node:crypto';

export function newEpoch(): string {
  return randomBytes(6).toString('hex');
}
