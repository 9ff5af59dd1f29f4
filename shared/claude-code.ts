/**
 * What Claude Code sessions are called in Switchboard's events (server/mappers/claude-code.ts makes them, the
 * dashboard's session view reads them): a session is a workflow and an agent of this type, with the session id.
 */
export const claudeCode = {
  /** `workflow.started`'s `workflowType` and the session agent's `agentType`. */
  type: 'claude-code',
  /** Every event's `source`. */
  source: 'claude-code',
  /** The step of the main agent's turns; a subagent's step is its `agent_id`. */
  mainStep: 'main',
} as const;
