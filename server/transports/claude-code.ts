/**
 * `POST /ingest/claude-code`: Claude Code's `http` hooks post each hook event's JSON here, and it becomes
 * built-in events, so the agents, workflows and log panels show a session live with no script in between.
 * A session is an agent and a workflow (both with the session id); a subagent is an agent of its own, whose
 * blocks sit in a step named by its agent id. docs/claude-code.md has the full mapping.
 *
 * The answer is always quick and never a decision: `{}` with 200 once the events are stored, so the hub can
 * neither block nor steer the agent. A hub that is down or refuses is a non-blocking error to Claude Code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { builtinCatalogue, describeIssues, type ValidEvent } from '@switchboard/shared';
import type { Hub } from '../core/hub.js';
import { admit, anyCaller, IngestError, parseJson, readBody, type IngestCaller } from './ingest.js';
import type { ConnectionLimits } from '../security/limits.js';
import { hookPayloadSchema, keyOf, mapHookEvent } from '../mappers/claude-code.js';
import { sendJson } from './json-response.js';

export async function handleClaudeCodeHook(
  req: IncomingMessage,
  res: ServerResponse,
  hub: Hub,
  connectionLimits: ConnectionLimits,
  caller: IngestCaller = anyCaller,
): Promise<void> {
  const answer = (status: number, body: unknown, retryAfterSeconds?: number) => {
    sendJson(res, status, body, retryAfterSeconds);
  };
  try {
    if (req.method !== 'POST') throw new IngestError(405, 'use POST with the hook event as JSON');
    const raw = parseJson(await readBody(req), 'body');
    const parsed = hookPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      throw new IngestError(400, `not a Claude Code hook event: ${describeIssues(parsed.error.issues)}`);
    }
    const key = keyOf(parsed.data);
    const events: ValidEvent[] = mapHookEvent(parsed.data).map((event, i) => {
      const checked = builtinCatalogue.publishInputSchema.safeParse(
        key === undefined ? event : { ...event, key: `${key}:${i}` },
      );
      // The hook's ids become ids and keys: one the contract refuses (too long, outside the alphabet) is the
      // sender's to fix, answered 400 with what is wrong, never a fault of the server.
      if (!checked.success) {
        throw new IngestError(400, `the hook event maps to an invalid event: ${describeIssues(checked.error.issues)}`);
      }
      return checked.data;
    });
    admit(events, caller, connectionLimits);
    // Keys come from the session and tool ids, and are looked up among this caller's own: a token that
    // publishes under another session's key stores an event of its own and never hides the session's.
    await hub.append(events, caller.keyOwner);
    // An empty object: no decision, no added context. Claude Code goes on as if the hook were not there.
    answer(200, {});
  } catch (error) {
    if (error instanceof IngestError) {
      req.resume();
      answer(error.status, { error: error.message }, error.retryAfterSeconds);
      return;
    }
    throw error;
  }
}
