/**
 * The detail drawer: one for the whole page. Anything that can be opened (a log row, a lane's block or call, a
 * step, a workflow, a transcript entry) hands it a `Detail`; it shows the whole of it beside the page, which
 * stays usable. Escape or ✕ closes it and puts the focus back where it was.
 */
import { createContext, use, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { pretty } from '../format.js';
import { CopyButton } from './CopyButton.js';
import type { Detail } from './details.js';

interface DrawerState {
  detail: Detail | null;
  open: (detail: Detail) => void;
  close: () => void;
}

const DrawerContext = createContext<DrawerState | null>(null);

export function useDrawer(): DrawerState {
  const state = use(DrawerContext);
  if (!state) throw new Error('useDrawer outside <DrawerProvider>');
  return state;
}

export function DrawerProvider({ children }: { children: ReactNode }) {
  const [detail, setDetail] = useState<Detail | null>(null);
  // What had the focus when the item shown was opened (the block, row or call itself): it gets it back on close.
  const opener = useRef<HTMLElement | null>(null);
  const open = useCallback((next: Detail) => {
    const active = document.activeElement;
    if (active instanceof HTMLElement && !active.closest('.drawer')) opener.current = active;
    setDetail(next);
  }, []);
  const close = useCallback(() => {
    setDetail(null);
  }, []);
  useEffect(() => {
    if (detail !== null || !opener.current) return;
    if (opener.current.isConnected) opener.current.focus();
    opener.current = null;
  }, [detail]);
  const state = useMemo(() => ({ detail, open, close }), [detail, open, close]);
  return <DrawerContext value={state}>{children}</DrawerContext>;
}

export function Drawer() {
  const { detail, close } = useDrawer();
  const panel = useRef<HTMLElement>(null);
  const isOpen = detail !== null;
  // Opening moves the focus into the drawer (Tab reaches Copy and ✕); another item opened while it is open
  // leaves the focus where the reader is.
  useEffect(() => {
    if (!isOpen) return;
    panel.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close();
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, [isOpen, close]);
  if (!detail) return null;

  const raw = pretty(detail.events.length === 1 ? detail.events[0] : detail.events);
  return (
    <aside
      ref={panel}
      className="drawer"
      aria-labelledby="drawer-title"
      data-testid="drawer"
      data-kind={detail.kind}
      tabIndex={-1}
    >
      <header>
        <h2 id="drawer-title" title={detail.title}>
          {detail.title}
        </h2>
        <CopyButton key={detail.key} text={raw} />
        <button type="button" aria-label="Close detail" onClick={close}>
          ✕
        </button>
      </header>
      <div className="drawer-body">
        {detail.facts.length > 0 && (
          <dl className="facts">
            {detail.facts.map((f) => (
              <div key={f.label} data-fact={f.label}>
                <dt>{f.label}</dt>
                <dd className={f.tone && `tone-${f.tone}`}>{f.value}</dd>
              </div>
            ))}
          </dl>
        )}
        {detail.sections.map((s) => (
          <section key={s.label} data-section={s.label}>
            <h3>{s.label}</h3>
            <pre className={s.tone === 'bad' ? 'error' : undefined}>{s.text}</pre>
          </section>
        ))}
        <section data-section="raw">
          <h3>
            Raw JSON ({detail.events.length} event{detail.events.length === 1 ? '' : 's'})
          </h3>
          <pre data-testid="raw-json">{raw}</pre>
        </section>
      </div>
    </aside>
  );
}
