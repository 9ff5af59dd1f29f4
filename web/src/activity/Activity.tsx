import { useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { Chart, type ChartSeries } from './Chart.js';
import type { Rates, RateSeries } from './rates.js';
import { otherAgents, useActivity } from './useActivity.js';

type Mode = 'family' | 'agent';

/** The families' colours, as the event log paints their types. */
const familyColors: Record<string, string> = {
  agent: '#d29922',
  workflow: '#5aa9ff',
  tdd: '#3fb950',
  system: '#bc8cff',
};
const palette = ['#39c5cf', '#f778ba', '#ffa657', '#a5d6ff', '#7ee787', '#d2a8ff', '#ff7b72', '#e3b341'];
/** Agents charted one by one, the busiest first; the rest are one series. */
const agentsShown = 6;

function pick(mode: Mode, series: RateSeries[]): RateSeries[] {
  const busiest = [...series].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  if (mode === 'family') return busiest;
  const shown = busiest.filter((s) => s.name !== otherAgents).slice(0, agentsShown);
  const rest = busiest.filter((s) => !shown.includes(s));
  if (rest.length === 0) return shown;
  const rates = rest[0]?.rates.map((_, i) => {
    let sum: number | null = null;
    for (const s of rest) {
      const v = s.rates[i];
      if (v !== null && v !== undefined) sum = (sum ?? 0) + v;
    }
    return sum;
  });
  return [...shown, { name: otherAgents, rates: rates ?? [], total: rest.reduce((n, s) => n + s.total, 0) }];
}

const colorOf = (mode: Mode, name: string, i: number) =>
  (mode === 'family' ? familyColors[name] : undefined) ?? palette[i % palette.length] ?? '#8b95a3';

/** Events per second over the last 15 minutes, by family or by agent, live. */
export function Activity({ now }: { now: number }) {
  const { windows, error, loaded } = useActivity();
  const [mode, setMode] = useState<Mode>('family');
  // The windows are read once a second (and at once when history has been counted and when the mode changes).
  const [rates, setRates] = useState<Rates & { mode: Mode }>(() => ({
    mode: 'family',
    ...windows.families.read(Date.now()),
  }));
  useEffect(() => {
    setRates({ mode, ...(mode === 'family' ? windows.families : windows.agents).read(now) });
  }, [mode, now, windows, loaded]);
  const { times } = rates;
  const series = useMemo(() => pick(rates.mode, rates.series), [rates]);
  const chartSeries = useMemo<ChartSeries[]>(
    () => series.map((s, i) => ({ label: s.name, color: colorOf(rates.mode, s.name, i) })),
    [series, rates.mode],
  );
  const data = useMemo<uPlot.AlignedData>(() => [times, ...series.map((s) => s.rates)], [times, series]);
  const total = series.reduce((n, s) => n + s.total, 0);
  const latest = series.reduce((n, s) => n + (s.rates.at(-1) ?? 0), 0);

  return (
    <section className="panel activity" aria-labelledby="activity-title">
      <header>
        <h2 id="activity-title">Activity</h2>
        <span className="muted small" data-testid="activity-rate">
          {latest.toFixed(1)}/s
        </span>
        <span className="segmented grow-left" role="group" aria-label="Chart by">
          {(['family', 'agent'] as const).map((m) => (
            <button
              key={m}
              type="button"
              aria-pressed={mode === m}
              onClick={() => {
                setMode(m);
              }}
            >
              by {m}
            </button>
          ))}
        </span>
      </header>
      {error && <p className="error small">{error}</p>}
      {/* The mode of what is drawn: a click changes `mode` a render before the rates are read again for it. */}
      <div className="activity-body" data-testid="activity" data-mode={rates.mode} data-events={total}>
        <Chart series={chartSeries} data={data} />
        <ul className="chart-legend small" aria-label={`events in the last 15 minutes by ${rates.mode}`}>
          {series.map((s, i) => (
            <li key={s.name} data-series={s.name} title={`${s.name}: ${s.total} events in the last 15 minutes`}>
              <span className="swatch" style={{ background: chartSeries[i]?.color }} aria-hidden="true" />
              <span className="legend-name">{s.name}</span> <span className="muted">{s.total}</span>
            </li>
          ))}
          {series.length === 0 && <li className="muted">no events in the last 15 minutes</li>}
        </ul>
      </div>
    </section>
  );
}
