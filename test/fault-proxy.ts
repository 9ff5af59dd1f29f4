/**
 * A TCP proxy that injects the faults a network between processes has and a SIGKILL never shows: latency,
 * connections reset, and a black hole (sockets stay open, nothing arrives, nobody is told). Listens on
 * 127.0.0.1:0 and forwards to a target on loopback only. No test framework here, so the soak (bench/soak.ts)
 * uses it too.
 *
 * A black hole behaves like a partition under TCP: bytes sent into it are held, not lost, and arrive in order
 * once it heals, if both ends are still there; a side that gave up meanwhile (closed its socket) is told to
 * the other side only after the heal, as a peer finds out only when the network lets a packet through again.
 * New connections made during a black hole are accepted and then hear nothing, like a SYN answered by a
 * half-dead path: the client's connect or handshake timeout has to notice.
 */
import net from 'node:net';

export interface FaultProxy extends AsyncDisposable {
  /** The port to give clients instead of the target's. */
  readonly port: number;
  /** Every chunk, either way, is delivered `ms` later than it arrived (order kept); 0 removes the delay. */
  latency(ms: number): void;
  /** Resets (TCP RST) every open connection on both sides; new connections are accepted as usual. */
  reset(): number;
  /** From now on nothing is forwarded either way, on open and new connections, until `heal()`. */
  blackHole(): void;
  /**
   * Black-holes everything from the first client chunk that contains `text` (that chunk is held too), e.g.
   * `COMMIT` for a PostgreSQL link cut mid-commit. Resolves when it happened.
   */
  blackHoleOn(text: string): Promise<void>;
  /** Ends the black hole (held bytes are delivered) and the latency. */
  heal(): void;
  /** Connections open right now. */
  connections(): number;
  /** Bytes received and not yet delivered (held by a black hole or a latency), either way. */
  held(): number;
  close(): Promise<void>;
}

/** What flows one way on one connection: data, then perhaps an orderly end or an abort. */
type Item = { due: number } & ({ data: Buffer } | { end: 'end' | 'abort' });

/** Held bytes per direction before the source is paused (its sender then waits on TCP flow control). */
const highWater = 1024 * 1024;
/** A target that does not accept within this long is treated as refusing. */
const connectTimeoutMs = 5_000;

export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const host = target.host ?? '127.0.0.1';
  if (!/^127\.|^::1$|^localhost$/.test(host)) throw new Error(`fault proxy: target ${host} is not loopback`);
  let delayMs = 0;
  let holding = false;
  let trigger: { text: Buffer; fired: () => void } | undefined;
  const pipes = new Set<Pipe>();
  const sockets = new Set<net.Socket>();

  /** One direction of one connection: from `source` to `sink`, through a queue the faults act on. */
  class Pipe {
    private readonly queue: Item[] = [];
    private bytes = 0;
    private timer: NodeJS.Timeout | undefined;
    private done = false;

    constructor(
      private readonly source: net.Socket,
      private readonly sink: net.Socket,
      private readonly inspect: boolean,
    ) {
      pipes.add(this);
      source.on('data', (chunk: Buffer) => {
        if (this.inspect && trigger && chunk.includes(trigger.text)) {
          const fired = trigger.fired;
          trigger = undefined;
          holding = true;
          fired();
        }
        this.push({ due: Date.now() + delayMs, data: chunk });
      });
      source.on('end', () => {
        this.push({ due: Date.now() + delayMs, end: 'end' });
      });
      // An error, or a close without an orderly end first: the peer learns of it as an abort.
      source.on('close', () => {
        this.push({ due: Date.now() + delayMs, end: 'abort' });
      });
      source.on('error', () => undefined);
    }

    private push(item: Item): void {
      if (this.done) return;
      // A later item is never due before an earlier one, so a change of latency cannot reorder bytes.
      const last = this.queue.at(-1);
      if (last && last.due > item.due) item.due = last.due;
      this.queue.push(item);
      if ('data' in item) this.bytes += item.data.length;
      if (this.bytes > highWater) this.source.pause();
      this.pump();
    }

    /** Delivers what is due unless the link is black-holed; re-arms itself for what is not due yet. */
    pump(): void {
      clearTimeout(this.timer);
      this.timer = undefined;
      if (holding || this.done) return;
      const now = Date.now();
      while (this.queue.length > 0) {
        const item = this.queue[0];
        if (item === undefined || item.due > now) break;
        this.queue.shift();
        if ('data' in item) {
          this.bytes -= item.data.length;
          if (!this.sink.destroyed) this.sink.write(item.data);
          continue;
        }
        this.done = true;
        this.queue.length = 0;
        pipes.delete(this);
        if (item.end === 'end') this.sink.end();
        else if (!this.sink.destroyed) this.sink.resetAndDestroy();
        return;
      }
      if (this.bytes <= highWater && this.source.isPaused() && !this.source.destroyed) this.source.resume();
      const next = this.queue[0];
      if (next) {
        this.timer = setTimeout(
          () => {
            this.pump();
          },
          Math.max(0, next.due - now),
        );
      }
    }

    get heldBytes(): number {
      return this.bytes;
    }

    stop(): void {
      clearTimeout(this.timer);
      this.done = true;
      pipes.delete(this);
    }
  }

  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host, port: target.port, timeout: connectTimeoutMs });
    upstream.setNoDelay(true);
    upstream.once('connect', () => upstream.setTimeout(0));
    upstream.once('timeout', () => upstream.destroy(new Error('fault proxy: target did not accept')));
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    new Pipe(client, upstream, true);
    new Pipe(upstream, client, false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no TCP address');

  const pumpAll = () => {
    for (const pipe of [...pipes]) pipe.pump();
  };
  const close = async () => {
    for (const pipe of [...pipes]) pipe.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  };
  return {
    port: address.port,
    latency(ms) {
      delayMs = ms;
      pumpAll();
    },
    reset() {
      const open = [...sockets];
      for (const socket of open) if (!socket.destroyed) socket.resetAndDestroy();
      // Two sockets per connection (one may be gone already).
      return Math.ceil(open.length / 2);
    },
    blackHole() {
      holding = true;
    },
    blackHoleOn(text) {
      return new Promise((fired) => {
        trigger = { text: Buffer.from(text), fired };
      });
    },
    heal() {
      holding = false;
      delayMs = 0;
      trigger = undefined;
      for (const pipe of [...pipes]) pipe.pump();
    },
    connections: () => Math.ceil(sockets.size / 2),
    held: () => [...pipes].reduce((sum, pipe) => sum + pipe.heldBytes, 0),
    close,
    [Symbol.asyncDispose]: close,
  };
}
