/**
 * One line per event for people: id, time, type, topic and a summary of the fields that matter, with colours
 * for status, phase and level when the output is a terminal.
 */
import type { AnyEnvelope, StreamItem } from '@switchboard/shared';
import { summarizeEvent } from '@switchboard/client';

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 } as const;
type Colour = keyof typeof codes;

const colourOf: Record<string, Colour> = {
  idle: 'green',
  busy: 'yellow',
  blocked: 'magenta',
  error: 'red',
  offline: 'gray',
  red: 'red',
  green: 'green',
  refactor: 'cyan',
  passed: 'green',
  completed: 'green',
  failed: 'red',
  skipped: 'gray',
  debug: 'gray',
  info: 'blue',
  warn: 'yellow',
  warning: 'yellow',
  critical: 'red',
  high: 'red',
  medium: 'yellow',
  low: 'gray',
};

export function formatEvent(
  event: StreamItem | AnyEnvelope,
  colour: boolean,
  custom?: (event: AnyEnvelope) => string | undefined,
): string {
  const paint = (word: string) => {
    const c = colourOf[word];
    return colour && c ? `\u001b[${codes[c]}m${word}\u001b[0m` : word;
  };
  const time = event.timestamp.toISOString().slice(11, 19);
  const text = summarizeEvent(event, paint, custom);
  return `${column(`#${event.id}`, widths.id)} ${time}  ${column(event.type, widths.type)} ${column(event.topic, widths.topic)} ${text}`;
}

/** Column widths: the longest built-in type fits; a longer type or topic is shortened in the middle. */
const widths = { id: 8, type: 23, topic: 28 } as const;

/**
 * `text` in exactly `width` characters, so the columns after it stay aligned: padded when shorter; when longer,
 * its start and its end (where ids differ: `workflow:cc:3f2a…e19b`) with `…` between them.
 */
export function column(text: string, width: number): string {
  if (text.length <= width) return text.padEnd(width);
  const tail = Math.floor((width - 1) / 2);
  return `${text.slice(0, width - 1 - tail)}…${text.slice(text.length - tail)}`;
}
