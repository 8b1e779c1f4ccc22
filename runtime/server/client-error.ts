/**
 * What a connection gets when Node's HTTP parser or its timeouts give up on it (the server's `clientError`):
 * a JSON error like every other reply, then the connection closed. Node's own answer is a bare status line
 * with no body; a client should be able to branch on `code` here too.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.ts';
import { errorBody } from '../shared/edge-protocol.ts';

/** The limits a timeout reply names. */
export interface RequestTimeouts {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/** The status, code and message for an error of Node's parser or timeouts. */
export function clientErrorReply(err: NodeJS.ErrnoException, limits: RequestTimeouts): { status: number; code: string; message: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        code: 'request_timeout',
        message: `the request was not received in time: its headers within ${limits.headersTimeoutMs} ms, or all of it within ${limits.requestTimeoutMs} ms`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', message: 'the request headers are larger than the server takes' };
    default:
      return { status: 400, code: 'bad_request', message: `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})` };
  }
}

/**
 * Answers and closes a connection Node's parser or timeouts gave up on. A connection the client already
 * reset, or whose reply has begun, is only closed: writing then would corrupt what the client reads.
 * Logged at debug: a client's mistake or departure is not the server's error.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, limits: RequestTimeouts, log: Logger): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  const reply = clientErrorReply(err, limits);
  log.debug({ code: err.code, status: reply.status }, 'connection closed on a client error');
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(reply.code, reply.message));
  socket.end(
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // A client that does not read its reply must not hold the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}
