/** Small display helpers: relative times, durations, clock times. */

export function ago(timestamp: Date, now: number): string {
  const seconds = Math.max(0, Math.round((now - timestamp.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function clock(timestamp: Date): string {
  return (
    timestamp.toLocaleTimeString(undefined, { hour12: false }) +
    `.${String(timestamp.getMilliseconds()).padStart(3, '0')}`
  );
}

/** An event's whole envelope as readable JSON (dates as ISO strings). */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
