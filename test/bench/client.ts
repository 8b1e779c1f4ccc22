/**
 * A minimal keep-alive HTTP/1.1 client for the load generator: one request per connection at a time, a
 * pool of idle connections reused, a new connection opened whenever every pooled one is busy (up to
 * `maxConnections`; beyond that requests wait in the client, still timed from their scheduled send).
 *
 * Why not fetch: on the 2-core machine this was built on, Node's fetch (undici) spent about 600-950 us of
 * CPU per small POST and node:http about 200-300 us, against about 80 us here. The generator shares the
 * cores with the server under test, so every microsecond it burns is taken from the server. It reads
 * only what the benchmark needs: status, content-length or chunked body, x-batch-size, x-batch-id and
 * Server-Timing.
 */
import net from 'node:net';

/** What one reply told us. `status` is -1 when the connection failed or closed before a reply. */
export interface Reply {
  status: number;
  batchSize: number;
  batchId: number;
  /** queue + inference from Server-Timing (the runtime's device-side time), NaN when absent. */
  serverQueueInferenceMs: number;
  /** The whole Server-Timing `total`, NaN when absent. */
  serverTotalMs: number;
}

type Done = (reply: Reply) => void;

const CRLF2 = Buffer.from('\r\n\r\n');

function serverTiming(value: string | undefined): { queueInference: number; total: number } {
  if (!value) return { queueInference: NaN, total: NaN };
  let queue = NaN;
  let inference = NaN;
  let total = NaN;
  for (const m of value.matchAll(/([\w-]+);dur=([\d.eE+-]+)/g)) {
    const v = Number(m[2]);
    if (m[1] === 'queue') queue = v;
    else if (m[1] === 'inference') inference = v;
    else if (m[1] === 'total') total = v;
  }
  return { queueInference: queue + inference, total };
}

class Connection {
  readonly socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #done: Done | undefined;
  #pool: ClientPool;
  closed = false;

  constructor(pool: ClientPool, port: number, host: string) {
    this.#pool = pool;
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.#onData(d));
    const fail = () => {
      this.closed = true;
      this.#pool.forget(this);
      const done = this.#done;
      this.#done = undefined;
      done?.({ status: -1, batchSize: 0, batchId: 0, serverQueueInferenceMs: NaN, serverTotalMs: NaN });
    };
    this.socket.on('error', fail);
    this.socket.on('close', fail);
  }

  get busy(): boolean {
    return this.#done !== undefined;
  }

  send(bytes: Buffer, done: Done): void {
    this.#done = done;
    this.socket.write(bytes);
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    const end = this.#buf.indexOf(CRLF2);
    if (end < 0) return;
    const head = this.#buf.toString('latin1', 0, end);
    const lines = head.split('\r\n');
    const status = Number(lines[0].slice(9, 12));
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      if (c > 0) headers.set(lines[i].slice(0, c).trim().toLowerCase(), lines[i].slice(c + 1).trim());
    }
    const bodyStart = end + 4;
    let consumed: number;
    const length = headers.get('content-length');
    if (length !== undefined) {
      consumed = bodyStart + Number(length);
      if (this.#buf.length < consumed) return;
    } else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      const c = this.#chunkedEnd(bodyStart);
      if (c < 0) return;
      consumed = c;
    } else {
      consumed = bodyStart; // no body (e.g. 204)
    }
    this.#buf = this.#buf.subarray(consumed);
    const timing = serverTiming(headers.get('server-timing'));
    const done = this.#done;
    this.#done = undefined;
    if (/close/i.test(headers.get('connection') ?? '')) {
      this.closed = true;
      this.#pool.forget(this);
      this.socket.destroy();
    } else {
      this.#pool.release(this);
    }
    done?.({
      status,
      batchSize: Number(headers.get('x-batch-size') ?? 0) || 0,
      batchId: Number(headers.get('x-batch-id') ?? 0) || 0,
      serverQueueInferenceMs: timing.queueInference,
      serverTotalMs: timing.total,
    });
  }

  /** Index just past a complete chunked body starting at `from`, or -1 while incomplete. */
  #chunkedEnd(from: number): number {
    let p = from;
    for (;;) {
      const eol = this.#buf.indexOf('\r\n', p, 'latin1');
      if (eol < 0) return -1;
      const size = parseInt(this.#buf.toString('latin1', p, eol), 16);
      if (!Number.isFinite(size)) return -1;
      if (size === 0) {
        const trailerEnd = this.#buf.indexOf(CRLF2, eol, 'latin1');
        return trailerEnd < 0 ? -1 : trailerEnd + 4;
      }
      p = eol + 2 + size + 2;
      if (p > this.#buf.length) return -1;
    }
  }
}

/** Connections to one server; `request` resolves with the reply (never rejects). */
export class ClientPool {
  readonly #host: string;
  readonly #port: number;
  readonly #maxConnections: number;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #waiting: { bytes: Buffer; done: Done }[] = [];
  #peak = 0;

  constructor(url: string, maxConnections: number) {
    const u = new URL(url);
    this.#host = u.hostname;
    this.#port = Number(u.port);
    this.#maxConnections = maxConnections;
  }

  /** Most connections open at once. */
  get peakConnections(): number {
    return this.#peak;
  }

  /** Builds the bytes of a POST once, to be sent many times: JSON unless other headers are given. */
  static post(
    url: string,
    path: string,
    json: string | Uint8Array,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ): Buffer {
    const u = new URL(url);
    const body = typeof json === 'string' ? Buffer.from(json) : json;
    const lines = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    return Buffer.concat([
      Buffer.from(`POST ${path} HTTP/1.1\r\nhost: ${u.host}\r\n${lines}content-length: ${body.length}\r\n\r\n`, 'latin1'),
      body,
    ]);
  }

  request(bytes: Buffer, done: Done): void {
    let conn = this.#idle.pop();
    while (conn && conn.closed) conn = this.#idle.pop();
    if (!conn) {
      if (this.#all.size >= this.#maxConnections) {
        this.#waiting.push({ bytes, done });
        return;
      }
      conn = new Connection(this, this.#port, this.#host);
      this.#all.add(conn);
      this.#peak = Math.max(this.#peak, this.#all.size);
    }
    conn.send(bytes, done);
  }

  release(conn: Connection): void {
    const next = this.#waiting.shift();
    if (next) conn.send(next.bytes, next.done);
    else this.#idle.push(conn);
  }

  forget(conn: Connection): void {
    this.#all.delete(conn);
    const next = this.#waiting.shift();
    if (next) this.request(next.bytes, next.done);
  }

  /** Closes every connection; requests still waiting for a reply complete with status -1. */
  destroy(): void {
    const waiting = this.#waiting.splice(0);
    for (const w of waiting) w.done({ status: -1, batchSize: 0, batchId: 0, serverQueueInferenceMs: NaN, serverTotalMs: NaN });
    for (const c of [...this.#all]) c.socket.destroy();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
