/**
 * The contract's small helpers that both ends call: entity topics agree with `topicOf`, and NDJSON lines are
 * numbered as an editor shows them.
 */
import { describe, expect, it } from 'vitest';
import { entityTopic, parseNdjson, topicOf } from '@switchboard/shared';

describe('entityTopic', () => {
  it('names the same topic topicOf derives from an event of that entity', () => {
    expect(entityTopic('workflow', 'wf-1')).toBe(
      topicOf({ type: 'workflow.completed', data: { workflowId: 'wf-1', duration: 5 } }),
    );
    expect(entityTopic('tdd', 't-1')).toBe(
      topicOf({ type: 'tdd.phase_changed', data: { taskId: 't-1', agentId: 'a', currentPhase: 'red' } }),
    );
    expect(entityTopic('agent', 'a-1')).toBe('agent:a-1');
  });
});

describe('parseNdjson', () => {
  it('skips blank lines but counts them, and reports each line that is not JSON without stopping', () => {
    const lines = parseNdjson('{"a":1}\n\n  \nnot json\r\n[2]\n');
    expect(lines).toEqual([
      { line: 1, ok: true, value: { a: 1 } },
      { line: 4, ok: false, error: expect.stringContaining('not valid JSON') as unknown },
      { line: 5, ok: true, value: [2] },
    ]);
  });
});
