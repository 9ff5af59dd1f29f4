/**
 * Writes event frames to one socket as cheaply as the kernel allows. Two things `ws`'s public `send` cannot do:
 *
 * - Write a frame built once for every subscriber. `send` frames its payload per socket (encode, header, a
 *   two-buffer write); a prebuilt frame (`textFrame`) is one shared, read-only buffer handed to each socket.
 * - Coalesce. The first frame a socket gets in a synchronous turn is written at once (a lone event waits for
 *   nothing), unless its writer is told more follow (the events of one group commit that this socket takes):
 *   those are held and go out in one write with the last of them. From the second frame of a turn otherwise (a
 *   page of replay) the socket is corked, and the turn's frames go out in one write on the next tick.
 * - Join. Frames of this socket's own (not shared: a replay's page, a pulled subscription's events) are held as
 *   text and written as one buffer of consecutive frames, about `runChars` at a time, when the turn ends, the run
 *   fills or anything else is written: one buffer, one `write` and one entry of the socket's `writev` per run
 *   rather than per frame. The peer reads the same frames.
 *
 * Both rely on `ws` internals, as engine.io does: `socket._sender.sendFrame(list)` (the sender's raw write) and
 * `socket._socket` (the net.Socket). They are only used when present and when a raw frame is valid for the
 * socket: no compression negotiated and no send queued inside the sender. Otherwise the writer falls back to
 * `send`, which is always correct. `ws` is pinned; test/transports/socket-writer.test.ts checks both paths.
 */
import { WebSocket } from 'ws';
import { runChars } from '../../core/text-runs.js';

/**
 * Bytes held corked before they are flushed within the same turn. Keeps coalescing bounded, so that the
 * socket's `bufferedAmount` (which the slow-consumer limit reads) counts what the peer has not taken, not
 * what this turn has not yet offered to the kernel.
 */
const flushBytes = 64 * 1024;

interface Internals {
  _sender?: { sendFrame?: unknown; _state?: unknown };
  _extensions?: Record<string, unknown>;
  _socket?: { cork?: unknown; uncork?: unknown; writableLength?: unknown; once?: unknown };
}

/**
 * A complete unmasked text frame (RFC 6455 §5.2), header and payload in one buffer. The payload may come in
 * parts, written one after another: a large one is then never one large text (server/core/text-runs.ts).
 */
export function textFrame(text: string | readonly string[]): Buffer {
  let length = 0;
  if (typeof text === 'string') length = Buffer.byteLength(text);
  else for (const part of text) length += Buffer.byteLength(part);
  const frame = Buffer.allocUnsafe(headerBytes(length) + length);
  const offset = writeHeader(frame, 0, length);
  if (typeof text === 'string') frame.write(text, offset, 'utf8');
  else {
    let at = offset;
    for (const part of text) at += frame.write(part, at, 'utf8');
  }
  return frame;
}

/**
 * A text frame's header for a payload of `length` bytes followed by the payload's first bytes, `head`: the rest of
 * the payload then follows it as bytes of their own (a reply's body built once, bench/answer-server.ts).
 */
export function textFrameStart(length: number, head: Buffer): Buffer {
  const start = Buffer.allocUnsafe(headerBytes(length) + head.length);
  head.copy(start, writeHeader(start, 0, length));
  return start;
}

/** The header's size for a payload of `length` bytes: 7-bit, 16-bit or 64-bit length. */
const headerBytes = (length: number): number => (length < 126 ? 2 : length < 65_536 ? 4 : 10);

/** Writes a text frame's header for a payload of `length` bytes at `at`; answers where the payload starts. */
function writeHeader(frame: Buffer, at: number, length: number): number {
  frame[at] = 0x81; // FIN + text opcode
  if (length < 126) {
    frame[at + 1] = length;
    return at + 2;
  }
  if (length < 65_536) {
    frame[at + 1] = 126;
    frame.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  frame[at + 1] = 127;
  frame.writeBigUInt64BE(BigInt(length), at + 2);
  return at + 10;
}

/** Complete text frames, one per text, one after another in one buffer. */
export function textFrames(texts: readonly string[]): Buffer {
  const lengths = new Array<number>(texts.length);
  let total = 0;
  for (let i = 0; i < texts.length; i++) {
    const length = Buffer.byteLength(texts[i] ?? '');
    lengths[i] = length;
    total += headerBytes(length) + length;
  }
  const frames = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    at = writeHeader(frames, at, lengths[i] ?? 0);
    at += frames.write(texts[i] ?? '', at, 'utf8');
  }
  return frames;
}

/**
 * Where frames come from: a reply as text (`shared`: see StreamSink), and a shared item's reply as a complete frame,
 * built once for every socket that takes it.
 */
export interface FrameSource<K> {
  text(head: string, item: K, shared: boolean): string;
  wire(head: string, item: K): Buffer;
}

interface Stream {
  cork(): void;
  uncork(): void;
  once(event: 'drain', listener: () => void): void;
  readonly writableLength: number;
}

export class SocketWriter {
  /** True when prebuilt frames go straight to the sender; false when every frame goes through `send`. */
  readonly prebuilt: boolean;
  private readonly sender: { sendFrame(list: Buffer[]): void; _state: unknown } | undefined;
  private readonly stream: Stream | undefined;
  /** A frame was written in this turn of the event loop. */
  private busy = false;
  private corked = false;
  /** Frames are held for a batch whose last frame (written with `more` false) sends them all. */
  private batch = false;
  /** This socket's own frames as text, not yet written (see the class's "Join"), and their characters. */
  private run: string[] = [];
  private runLength = 0;

  constructor(private readonly socket: WebSocket) {
    const internals = socket as unknown as Internals;
    const sender = internals._sender;
    const stream = internals._socket;
    this.sender =
      sender && typeof sender.sendFrame === 'function' && sender._state === 0
        ? (sender as { sendFrame(list: Buffer[]): void; _state: unknown })
        : undefined;
    this.stream =
      stream &&
      typeof stream.cork === 'function' &&
      typeof stream.uncork === 'function' &&
      typeof stream.writableLength === 'number'
        ? (stream as Stream)
        : undefined;
    const compressed = Object.keys(internals._extensions ?? {}).length > 0;
    this.prebuilt = this.sender !== undefined && !compressed;
  }

  /**
   * Writes one event's frame: the prebuilt one when it applies, else the text through `send`. `more`: further
   * frames follow, the last of them with `more` false, so this one is held and all of them go in one write.
   */
  write<K>(frames: FrameSource<K>, head: string, item: K, shared: boolean, more = false): void {
    if (!this.begin(more)) return;
    if (!this.direct()) {
      this.writeRun();
      this.socket.send(frames.text(head, item, shared));
    } else if (shared) {
      this.writeRun();
      this.sender?.sendFrame([frames.wire(head, item)]);
    } else {
      const text = frames.text(head, item, false);
      this.run.push(text);
      this.runLength += text.length;
      if (this.runLength >= runChars) this.writeRun();
    }
    if (more) this.batch = true;
    else if (this.batch) {
      // The batch's last frame: send what it held now rather than at the end of the turn.
      this.batch = false;
      this.flush();
      return;
    }
    this.end();
  }

  /**
   * Writes one reply of its own (a query's result, PONG), coalesced with the turn's other frames. A reply in parts
   * (`dataReplyTexts`) is one message, their concatenation.
   */
  writeText(text: string | readonly string[]): void {
    if (!this.begin()) return;
    this.writeRun();
    if (this.direct()) this.sender?.sendFrame([textFrame(text)]);
    else this.socket.send(typeof text === 'string' ? text : text.join(''));
    this.end();
  }

  /**
   * True while fewer than `bytes` wait to be sent; otherwise false, and `resume` runs once the socket has
   * drained. Without access to the socket's stream it cannot wait, so it always answers true.
   */
  drainedBelow(bytes: number, resume: () => void): boolean {
    // The run not yet written counts (its characters: at most its bytes).
    if (!this.stream || this.socket.bufferedAmount + this.runLength < bytes) return true;
    // A held run and a corked turn must reach the kernel before a drain can follow.
    this.flush();
    // The kernel may have taken it all at once; otherwise the last write found the socket full (the window is past
    // its high-water mark), so `drain` follows once it empties.
    if (this.socket.bufferedAmount < bytes) return true;
    this.stream.once('drain', resume);
    return false;
  }

  private begin(more = false): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    const first = !this.busy;
    if (first) {
      this.busy = true;
      process.nextTick(SocketWriter.endTurn, this);
    }
    if ((more || !first) && this.stream && !this.corked) {
      this.stream.cork();
      this.corked = true;
    }
    return true;
  }

  /**
   * The sender's state is not DEFAULT only while it works through a queued Blob or compression: then a frame
   * must queue behind that work, which only `send` does.
   */
  private direct(): boolean {
    return this.prebuilt && this.sender?._state === 0;
  }

  private end(): void {
    // Offer what this turn holds to the kernel now; the next frame of the turn corks again.
    if (this.stream && this.stream.writableLength >= flushBytes) this.flush();
  }

  /**
   * Writes the held run, as one buffer of frames when the sender takes raw frames, else each through `send`. A
   * socket closed meanwhile takes nothing more: a close frame, once sent, is the last.
   */
  private writeRun(): void {
    if (this.run.length === 0) return;
    const { run } = this;
    this.run = [];
    this.runLength = 0;
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.direct()) this.sender?.sendFrame([textFrames(run)]);
    else for (const text of run) this.socket.send(text);
  }

  private flush(): void {
    this.writeRun();
    if (!this.corked) return;
    this.corked = false;
    this.stream?.uncork();
  }

  /** The end of a writer's turn (one function for every writer: an arrow per writer would cost each its own). */
  private static readonly endTurn = (writer: SocketWriter): void => {
    writer.busy = false;
    writer.batch = false;
    writer.flush();
  };
}
