/**
 * The dashboard's entry: one typed Switchboard client per token, tRPC's TanStack Query provider around the app,
 * and a token prompt when the server asks for one (kept in sessionStorage for this tab's session only).
 */
import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { StrictMode, useState, type SyntheticEvent, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { createSwitchboardClient, type SwitchboardClient } from '../../client/client.js';
import { App } from './App.js';
import { UsageProvider } from './usage.js';
import { TRPCProvider, useTRPC } from './trpc.js';
import './styles.css';

const tokenKey = 'switchboard.token';

function connect(token: string | undefined): SwitchboardClient {
  // A dashboard should come back quickly after a restart: retries stay within 5 s of each other.
  return createSwitchboardClient({ url: location.origin, token, reconnect: { initialMs: 500, maxMs: 5_000 } });
}

function Root() {
  // One client per token, replaced (never reused) when the token changes, so no request is sent by a client
  // that is closing.
  const [session, setSession] = useState(() => {
    const token = sessionStorage.getItem(tokenKey) ?? undefined;
    return { token, client: connect(token) };
  });
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { retry: false } } }));
  const changeToken = (token: string | undefined) => {
    if (token === undefined) sessionStorage.removeItem(tokenKey);
    else sessionStorage.setItem(tokenKey, token);
    const previous = session.client;
    queryClient.clear();
    setSession({ token, client: connect(token) });
    void previous.close();
  };
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={session.client} queryClient={queryClient}>
        <Gate key={session.token ?? ''} client={session.client} token={session.token} onToken={changeToken} />
      </TRPCProvider>
    </QueryClientProvider>
  );
}

/** Asks the server for one event: that answers whether this page may read, before any panel subscribes. */
function Gate({
  client,
  token,
  onToken,
}: {
  client: SwitchboardClient;
  token: string | undefined;
  onToken: (token: string | undefined) => void;
}) {
  const trpc = useTRPC();
  const probe = useQuery(trpc.history.queryOptions({ order: 'desc', limit: 1 }, { staleTime: Infinity }));
  if (probe.isPending) return <Splash title="Connecting…" detail={`to ${location.host}`} />;
  if (probe.error) {
    const code = probe.error.data?.code;
    if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') {
      return <TokenPrompt refused={token !== undefined} reason={probe.error.message} onSubmit={onToken} />;
    }
    return (
      <Splash title="Cannot read events" detail={probe.error.message}>
        <button type="button" onClick={() => void probe.refetch()}>
          Try again
        </button>
      </Splash>
    );
  }
  // The usage totals sit above the page: its header, agent cards and workflow lanes all read them.
  return (
    <UsageProvider>
      <App
        client={client}
        {...(token !== undefined && {
          onSignOut: () => {
            onToken(undefined);
          },
        })}
      />
    </UsageProvider>
  );
}

function Splash({ title, detail, children }: { title: string; detail?: string; children?: ReactNode }) {
  return (
    <div className="splash">
      <h1>Switchboard</h1>
      <p>{title}</p>
      {detail && <p className="muted small">{detail}</p>}
      {children}
    </div>
  );
}

function TokenPrompt({
  refused,
  reason,
  onSubmit,
}: {
  refused: boolean;
  reason: string;
  onSubmit: (token: string) => void;
}) {
  const [value, setValue] = useState('');
  const submit = (e: SyntheticEvent) => {
    e.preventDefault();
    if (value.trim() !== '') onSubmit(value.trim());
  };
  return (
    <div className="splash">
      <h1>Switchboard</h1>
      <form className="token-form" onSubmit={submit}>
        <label htmlFor="token">This server needs a viewer (or admin) token.</label>
        {refused && <p className="error small">That token was refused: {reason}</p>}
        <input
          id="token"
          type="password"
          autoComplete="off"
          autoFocus
          value={value}
          onChange={(e) => {
            setValue(e.target.value);
          }}
        />
        <button type="submit">Open dashboard</button>
        <p className="muted small">Kept in this tab&apos;s session storage until the tab closes.</p>
      </form>
    </div>
  );
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
}
