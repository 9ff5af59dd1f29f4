import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
}

const axis: uPlot.Axis = {
  stroke: '#8b95a3',
  grid: { stroke: '#2a313b', width: 1 },
  ticks: { stroke: '#2a313b', width: 1 },
  font: '11px system-ui, sans-serif',
};

/** An x-axis label: the time of day to the minute (the window is 15 minutes of today). */
const clockMinutes = (seconds: number) =>
  new Date(seconds * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });

/**
 * A uPlot line chart of `data` (times in seconds, then one array per series) filling its box. The plot is made
 * again only when the series change; new data is handed to it.
 */
export function Chart({ series, data }: { series: readonly ChartSeries[]; data: uPlot.AlignedData }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => `${s.label}\u0000${s.color}`).join('\n');
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const lines = shape
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [label = '', color = ''] = line.split('\u0000');
        return { label, stroke: color, width: 1.5, spanGaps: false, points: { show: false } };
      });
    const made = new uPlot(
      {
        width: Math.max(1, el.clientWidth),
        height: Math.max(1, el.clientHeight),
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [
          { ...axis, values: (_u, splits) => splits.map(clockMinutes) },
          { ...axis, size: 40, label: 'events/s', labelSize: 14, labelFont: '11px system-ui, sans-serif' },
        ],
        series: [{}, ...lines],
      },
      // Empty until the effect below hands it the data, in the same commit.
      [[], ...lines.map(() => [])],
      el,
    );
    plot.current = made;
    // The box changes with the window (and is 0×0 while its view is hidden): the plot follows it.
    const observer = new ResizeObserver(() => {
      if (el.clientWidth > 0 && el.clientHeight > 0) made.setSize({ width: el.clientWidth, height: el.clientHeight });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      made.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data, shape]);
  return <div className="chart" ref={host} data-testid="activity-chart" />;
}
