import WebSocket from 'ws';
import { createSwitchboardClient } from '@switchboard/client';

const url = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8765';
await using client = createSwitchboardClient({ url, WebSocket });

// Watch one agent: its current status first, then every change. `event` is fully typed from the router.
let started!: () => void;
let finished!: () => void;
const isStarted = new Promise<void>((resolve) => (started = resolve));
const isFinished = new Promise<void>((resolve) => (finished = resolve));
const subscription = client.agentStatus.subscribe(
  { agentIds: ['coder-001'] },
  {
    onStarted: started,
    onData: ({ data: event }) => {
      if (event.type === 'stream.reset') return; // retention trimmed history; the current state follows
      const task = event.data.currentTask ? ` on ${event.data.currentTask.taskId}` : '';
      console.log(`#${event.id} ${event.data.agentId} is ${event.data.status}${task}`);
      if (event.data.status === 'idle') finished();
    },
  },
);
await isStarted;

// Write as an orchestrator does. The key makes a retried publish safe: it is stored once.
const busy = await client.publish.mutate({
  type: 'agent.status',
  key: 'coder-001:T-42:start',
  data: { agentId: 'coder-001', agentType: 'coder', status: 'busy', currentTask: { taskId: 'T-42', progress: 0 } },
});
console.log(`stored #${busy.id} on topic ${busy.topic} at ${busy.timestamp.toISOString()}`);
await client.publish.mutate({
  type: 'agent.status',
  key: 'coder-001:T-42:done',
  data: { agentId: 'coder-001', agentType: 'coder', status: 'idle' },
});

await isFinished;
subscription.unsubscribe();
