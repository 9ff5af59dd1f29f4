import { useCallback, useEffect, useMemo, useState } from 'react';
import { entityTopic, type StreamItem } from '@switchboard/shared';
import { callDuration, callInput, callOutput, callState, callSummary } from '../calls.js';
import { blockDetail, blockKey, callDetail, callKey, eventDetail, eventKey, type Detail } from '../drawer/details.js';
import { useDrawer } from '../drawer/Drawer.js';
import { useFeed, useOlderPage, type FeedInput } from '../feed.js';
import { clock, duration } from '../format.js';
import { useBatched } from '../hooks.js';
import { useSummarize, type Summarize } from '../summaries.js';
import { transcriptOf, type Entry } from './transcript.js';

const pageSize = 1_000;
/** Events a transcript holds at most; the oldest go first. */
const maxEvents = 5_000;

/** A value on as few lines as it takes: text as it is, anything else as compact JSON (the drawer indents it). */
const compact = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** One session's transcript, from its workflow's and its agent's events: history, then live. */
export function Transcript({ sessionId }: { sessionId: string }) {
  const input = useMemo<FeedInput>(
    () => ({ topics: [entityTopic('workflow', sessionId), entityTopic('agent', sessionId)] }),
    [sessionId],
  );
  /** Oldest first. */
  const [events, setEvents] = useState<readonly StreamItem[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  const append = useCallback((batch: StreamItem[]) => {
    setEvents((previous) => previous.concat(batch).slice(-maxEvents));
  }, []);
  const push = useBatched(append);
  const feed = useFeed(input, pageSize, push);
  const { start } = feed;
  useEffect(() => {
    if (!start || !('head' in start)) return;
    setEvents([...start.events].reverse());
    setHasOlder(start.hasOlder);
  }, [start]);
  const readOlder = useOlderPage(input, pageSize);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const loadOlder = () => {
    const oldest = events[0];
    if (!oldest) return;
    setLoadingOlder(true);
    readOlder(oldest.id)
      .then((page) => {
        setEvents((previous) =>
          previous[0]?.id === oldest.id ? [...[...page.events].reverse(), ...previous].slice(0, maxEvents) : previous,
        );
        setHasOlder(page.hasMore);
      })
      .catch(() => {
        // The button stays: pressing it again retries.
      })
      .finally(() => {
        setLoadingOlder(false);
      });
  };

  const transcript = useMemo(() => transcriptOf(events), [events]);
  const [failuresOnly, setFailuresOnly] = useState(false);
  const entries = failuresOnly ? transcript.entries.filter(isFailure) : transcript.entries;
  const summarize = useSummarize();

  return (
    <section className="panel transcript" aria-labelledby="transcript-title" data-session={sessionId}>
      <header>
        <h2 id="transcript-title" className="mono" title={sessionId}>
          {sessionId}
        </h2>
        <span className="muted small" data-testid="transcript-counts">
          {transcript.prompts} prompt{transcript.prompts === 1 ? '' : 's'} · {transcript.calls} call
          {transcript.calls === 1 ? '' : 's'}
          {transcript.failed > 0 && <span className="error"> · {transcript.failed} failed</span>}
        </span>
        <label className="grow-left small">
          <input
            type="checkbox"
            checked={failuresOnly}
            onChange={(e) => {
              setFailuresOnly(e.target.checked);
            }}
          />{' '}
          failures only
        </label>
      </header>
      {feed.error && <p className="error small">{feed.error}</p>}
      <ol className="entries scrolls" aria-label="transcript">
        {hasOlder && !failuresOnly && events.length < maxEvents && (
          <li className="older">
            <button type="button" disabled={loadingOlder} onClick={loadOlder}>
              {loadingOlder ? 'Loading…' : 'Load earlier events'}
            </button>
          </li>
        )}
        {entries.map((entry) => (
          <EntryView key={entry.key} entry={entry} summarize={summarize} />
        ))}
        {start && 'head' in start && entries.length === 0 && (
          <li className="muted">{failuresOnly ? 'No call has failed.' : 'Nothing recorded for this session yet.'}</li>
        )}
      </ol>
    </section>
  );
}

const isFailure = (entry: Entry) =>
  (entry.kind === 'call' && callState(entry.call) === 'failed') ||
  (entry.kind === 'block' && entry.block.data.blockType === 'tool_use' && entry.block.data.payload.isError === true);

function EntryView({ entry, summarize }: { entry: Entry; summarize: Summarize }) {
  const { open, detail: current } = useDrawer();
  const detail = (): Detail => {
    switch (entry.kind) {
      case 'call':
        return callDetail(entry.call);
      case 'prompt':
      case 'block':
        return blockDetail(entry.block);
      default:
        return eventDetail(entry.event, summarize(entry.event));
    }
  };
  const { head, body, tone, time } = describe(entry);
  const selected = current?.key === keyOf(entry);
  return (
    <li className={`entry entry-${entry.kind}${tone ? ` entry-${tone}` : ''}`} data-entry={entry.kind}>
      <button
        type="button"
        className={`entry-head${selected ? ' selected' : ''}`}
        onClick={() => {
          open(detail());
        }}
      >
        <span className="entry-label">{head.label}</span>
        <span className="entry-title" title={head.title}>
          {head.title}
        </span>
        <span className="muted small entry-meta">
          {head.meta}
          {head.meta && ' · '}
          {clock(time)}
        </span>
      </button>
      {body.map((part) => (
        <div key={part.label} className="entry-part">
          <span className="muted small">{part.label}</span>
          <pre className={part.bad ? 'error' : undefined}>{part.text}</pre>
        </div>
      ))}
    </li>
  );
}

/** The drawer's key for what the entry opens. */
const keyOf = (entry: Entry) =>
  entry.kind === 'call'
    ? callKey(entry.call)
    : entry.kind === 'prompt' || entry.kind === 'block'
      ? blockKey(entry.block)
      : eventKey(entry.event);

interface Described {
  head: { label: string; title: string; meta?: string };
  body: { label: string; text: string; bad?: boolean }[];
  tone?: 'bad' | 'warn' | 'good' | 'muted';
  time: Date;
}

/** What an entry shows: a line to open it by, and up to two parts of its text (cut at a few lines; whole in the drawer). */
function describe(entry: Entry): Described {
  switch (entry.kind) {
    case 'session': {
      const { initiator, parameters } = entry.event.data;
      const model = typeof parameters?.model === 'string' ? ` · ${parameters.model}` : '';
      return {
        head: { label: 'session', title: `started in ${initiator ?? 'an unknown folder'}${model}` },
        body: [],
        tone: 'muted',
        time: entry.event.timestamp,
      };
    }
    case 'prompt':
      return {
        head: { label: 'prompt', title: entry.text },
        body: [],
        time: entry.block.timestamp,
      };
    case 'call': {
      const { call } = entry;
      const state = callState(call);
      const ms = callDuration(call);
      const input = callInput(call);
      const output = callOutput(call);
      const subagent = entry.stepId === 'main' ? '' : ` · in ${entry.stepId}`;
      return {
        head: {
          label: call.toolName,
          title: callSummary(call),
          meta: `${state}${ms === undefined ? '' : ` in ${duration(ms)}`}${subagent}`,
        },
        body: [
          ...(input === undefined ? [] : [{ label: 'input', text: input }]),
          ...(output === undefined
            ? []
            : [{ label: state === 'failed' ? 'error' : 'result', text: compact(output), bad: state === 'failed' }]),
        ],
        tone: state === 'failed' ? 'bad' : state === 'running' ? 'warn' : undefined,
        time: (call.start ?? call.blocks[0] ?? call.end)?.timestamp ?? new Date(0),
      };
    }
    case 'block': {
      const { data } = entry.block;
      const text = data.blockType === 'tool_use' ? data.payload.inputPreview : data.payload.text;
      return {
        head: { label: data.blockType === 'tool_use' ? data.payload.toolName : data.blockType, title: data.summary },
        body: text === undefined ? [] : [{ label: data.blockType === 'tool_use' ? 'input' : data.blockType, text }],
        tone: data.blockType === 'tool_use' && data.payload.isError ? 'bad' : undefined,
        time: entry.block.timestamp,
      };
    }
    case 'subagent': {
      const started = entry.event.type === 'workflow.step_started';
      return {
        head: {
          label: 'subagent',
          title: `${entry.event.data.stepType} ${entry.event.data.stepId} ${started ? 'started' : 'finished'}`,
        },
        body: [],
        tone: 'muted',
        time: entry.event.timestamp,
      };
    }
    case 'status': {
      const { status, reason } = entry.event.data;
      return {
        head: { label: status, title: reason ?? status },
        body: [],
        tone: status === 'blocked' || status === 'error' ? 'warn' : 'muted',
        time: entry.event.timestamp,
      };
    }
    case 'log':
      return {
        head: { label: entry.event.data.level, title: entry.event.data.message },
        body: [],
        tone: 'muted',
        time: entry.event.timestamp,
      };
    case 'end':
      return {
        head: {
          label: 'session',
          title:
            entry.event.type === 'workflow.failed' ? `failed: ${entry.event.data.error.message}` : 'session completed',
        },
        body: [],
        tone: entry.event.type === 'workflow.failed' ? 'bad' : 'muted',
        time: entry.event.timestamp,
      };
  }
}
