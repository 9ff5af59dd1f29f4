/** How the bench's tables print a set of repeats: the median, with (min–max) when there is more than one. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const spread = (xs: number[], digits = 0) =>
  xs.length > 1 ? ` (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : '';

const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
/** A per-second figure in thousands with its spread across repeats: `58.7k (56.2–63.1k)`. */
export const rateCell = (values: number[]) =>
  `${k(median(values))}${spread(
    values.map((x) => x / 1000),
    1,
  ).replace(/\)$/, 'k)')}`;
/** A median with its spread, one decimal: `3.8 (3.4–3.8)`. */
export const cell = (values: number[]) => `${median(values).toFixed(1)}${spread(values, 1)}`;
