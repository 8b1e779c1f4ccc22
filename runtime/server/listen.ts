import { getRequestListener, type ServerType } from '@hono/node-server';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import type { Hono } from 'hono';
import type { ResolvedConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { answerClientError } from './client-error.ts';
import { refuseOrContinue } from './expect-continue.ts';

export interface Listening {
  readonly server: ServerType;
  readonly url: string;
  readonly port: number;
  /**
   * Stops listening, then lets every connection finish the requests it carries: a connection that has
   * already been answered and sits idle is closed; one accepted but not yet read is served first. Resolves
   * when all have closed, or after `timeoutMs` by closing what is left.
   */
  close(timeoutMs?: number): Promise<void>;
  /**
   * Resolves once no connection has been accepted for `quietMs` (the kernel's queue of connections made
   * before a stop signal has been taken), or after `maxMs`.
   */
  acceptQueueDrained(quietMs: number, maxMs: number): Promise<void>;
  /**
   * The end of a graceful stop that ran out of time: every request not yet answered gets `answer` (which
   * must write and end the reply), then every connection is destroyed. Returns how many were answered so.
   */
  abort(answer: (res: ServerResponse) => void): number;
}

interface SocketState {
  requests: number;
  active: number;
}

/** Connections the kernel may queue before the server accepts them (capped by net.core.somaxconn). */
const acceptBacklog = 4096;

/** Answers a request before the app sees it (returns true), or lets it through (false). */
export type Screen = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The limits the server itself applies to connections, and where it logs what they did. */
export interface ConnectionPolicy {
  readonly limits: Pick<
    ResolvedConfig['limits'],
    'bodyBytes' | 'uploadBytes' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'
  >;
  readonly log: Logger;
}

/** How often at most the connections dropped past `maxConnections` are logged. */
const dropLogEveryMs = 10_000;

/**
 * Node checks its header and request timeouts on an interval (30 s by default, which would let a stalled
 * request live up to 30 s past a shorter limit): a quarter of the shorter limit, between 50 ms and 1 s.
 */
export function timeoutCheckIntervalMs(limits: ConnectionPolicy['limits']): number {
  return Math.min(1000, Math.max(50, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/**
 * Binds the app to host:port (port 0 picks a free one), through @hono/node-server's request listener, with
 * `screen` (the front door) in front of it. The only file that opens a socket.
 */
export function listen(
  app: { fetch: Hono<any>['fetch'] },
  host: string,
  port: number,
  screen: Screen | undefined,
  policy: ConnectionPolicy,
): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const sockets = new Map<Socket, SocketState>();
    const unanswered = new Set<ServerResponse>();
    let closing = false;
    let lastAcceptMs = performance.now();
    const closeIfIdle = (s: Socket, st: SocketState) => {
      if (closing && st.active === 0 && st.requests > 0) s.destroySoon();
    };
    const toApp = getRequestListener(app.fetch);
    const { limits, log } = policy;
    const server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: timeoutCheckIntervalMs(limits),
      },
      screen
        ? (req, res) => {
            if (!screen(req, res)) void toApp(req, res);
          }
        : toApp,
    );
    // Past the cap Node closes a new connection as soon as it is accepted ('drop'): say so, not per connection.
    server.maxConnections = limits.maxConnections;
    let dropped = 0;
    let dropLoggedMs = -Infinity;
    server.on('drop', () => {
      dropped++;
      if (performance.now() - dropLoggedMs < dropLogEveryMs) return;
      dropLoggedMs = performance.now();
      log.warn(
        { dropped, maxConnections: limits.maxConnections },
        'connections closed at once: the server holds limits.maxConnections open connections',
      );
      dropped = 0;
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket, limits, log));
    server.on('checkContinue', (req, res) => {
      if (!refuseOrContinue(req, res, limits)) server.emit('request', req, res);
    });
    // A burst of new connections (clients opening more while replies are slow) overflowed Node's default
    // accept queue of 511; a dropped SYN is retried by the client after a second, far past any SLO.
    server.listen({ host, port, backlog: acceptBacklog }, () => {
      const info = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        server,
        port: info.port,
        url: `http://${shownHost}:${info.port}`,
        acceptQueueDrained: async (quietMs, maxMs) => {
          const until = performance.now() + maxMs;
          lastAcceptMs = performance.now();
          while (performance.now() < until) {
            const quietFor = performance.now() - lastAcceptMs;
            if (quietFor < quietMs) {
              await new Promise((r) => setTimeout(r, quietMs - quietFor));
              continue;
            }
            // A timer can fire after the loop was blocked, before that turn's poll phase has taken the
            // connections waiting meanwhile: let one poll phase run, then believe the quiet.
            const seen = lastAcceptMs;
            await new Promise((r) => setImmediate(r));
            if (lastAcceptMs === seen) return;
          }
        },
        abort: (answer) => {
          let n = 0;
          for (const res of unanswered) {
            if (res.headersSent) continue;
            answer(res);
            n++;
          }
          for (const s of sockets.keys()) s.destroy();
          return n;
        },
        close: (timeoutMs = 10_000) =>
          new Promise<void>((done) => {
            closing = true;
            // net.Server's close stops accepting without http.Server's sweep of "idle" connections, which
            // would also drop connections whose request has not been read yet.
            NetServer.prototype.close.call(server, () => done());
            for (const [s, st] of sockets) closeIfIdle(s, st);
            setTimeout(() => {
              for (const s of sockets.keys()) s.destroy();
            }, timeoutMs).unref();
          }),
      });
    });
    server.on('connection', (socket: Socket) => {
      lastAcceptMs = performance.now();
      const st: SocketState = { requests: 0, active: 0 };
      sockets.set(socket, st);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const st = sockets.get(req.socket);
      if (!st) return;
      st.requests++;
      st.active++;
      unanswered.add(res);
      // 'close' comes once per response: `on` saves the wrapper `once` allocates per request.
      res.on('close', () => {
        unanswered.delete(res);
        st.active--;
        closeIfIdle(req.socket, st);
      });
    });
    server.once('error', reject);
  });
}
