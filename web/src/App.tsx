import { useEffect, useState } from 'react';
import type { SwitchboardClient } from '../../client/client.js';
import { Activity } from './activity/Activity.js';
import { Agents } from './Agents.js';
import { Drawer, DrawerProvider } from './drawer/Drawer.js';
import { EventLog, type SyncState } from './EventLog.js';
import { useConnectionState, useNow } from './hooks.js';
import { AgentStatusesProvider } from './presence.js';
import { useRoute } from './route.js';
import { Sessions } from './sessions/Sessions.js';
import { Tdd } from './Tdd.js';
import { UsageLine, useUsage } from './usage.js';
import { Workflows } from './Workflows.js';

/** How long "caught up after reconnect" stays on screen. */
const caughtUpShownMs = 15_000;

export function App({ client, onSignOut }: { client: SwitchboardClient; onSignOut?: () => void }) {
  const connection = useConnectionState(client.connection);
  const now = useNow();
  const route = useRoute();
  const [sync, setSync] = useState<SyncState>({ phase: 'live' });
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => {
      setOnline(navigator.onLine);
    };
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  }, []);

  const indicator: { label: string; tone: string; detail?: string } =
    !online || connection.state === 'closed'
      ? { label: 'offline', tone: 'bad', detail: online ? connection.reason : 'this browser is offline' }
      : connection.state === 'connecting'
        ? { label: 'reconnecting', tone: 'warn', detail: connection.reason }
        : sync.phase === 'catching-up'
          ? { label: 'catching up', tone: 'warn', detail: `replayed ${sync.replayed} events so far` }
          : { label: 'live', tone: 'good' };
  const caughtUp = sync.phase === 'caught-up' && now - sync.at < caughtUpShownMs && connection.state === 'open';
  const usage = useUsage();

  return (
    <DrawerProvider>
      <div className="app">
        <header className="top">
          <h1>Switchboard</h1>
          <nav className="tabs" aria-label="Views">
            <a href="#/" aria-current={route.view === 'overview' ? 'page' : undefined}>
              Overview
            </a>
            <a href="#/sessions" aria-current={route.view === 'sessions' ? 'page' : undefined}>
              Claude Code
            </a>
          </nav>
          <span className={`indicator tone-${indicator.tone}`} data-testid="connection" title={indicator.detail}>
            <span className="dot" /> {indicator.label}
          </span>
          {caughtUp && (
            <span className="caught-up" data-testid="caught-up">
              caught up after reconnect · replayed {sync.replayed} event{sync.replayed === 1 ? '' : 's'}
            </span>
          )}
          {indicator.detail && indicator.label !== 'live' && <span className="muted small">{indicator.detail}</span>}
          <span className="grow-left">
            <UsageLine usage={usage.total} testId="usage-total" />
          </span>
          <span className="muted small">{location.host}</span>
          {onSignOut && (
            <button type="button" onClick={onSignOut}>
              Forget token
            </button>
          )}
        </header>
        <AgentStatusesProvider>
          {/* The overview stays mounted behind the sessions view: its subscriptions and the log's place go on. */}
          <main className="grid" hidden={route.view !== 'overview'}>
            <Agents now={now} />
            <Workflows now={now} />
            <Tdd now={now} />
            <EventLog connection={connection} onSync={setSync} />
            <Activity now={now} />
          </main>
          {route.view === 'sessions' && (
            <main className="sessions-main">
              <Sessions picked={route.sessionId} now={now} />
            </main>
          )}
        </AgentStatusesProvider>
        <Drawer />
      </div>
    </DrawerProvider>
  );
}
