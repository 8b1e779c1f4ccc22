import type { Context } from 'hono';
import type { ServerResponse } from 'node:http';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NodeBindings } from './node-request.ts';

/** Marks a Node response whose reply object already carries the request id (see {@link carriesRequestId}). */
const idInReply = Symbol('edgebatch.requestIdInReply');
type Marked = ServerResponse & { [idInReply]?: true };

/** Whether {@link jsonReply} made this response's reply, request id included, so no header is left to add. */
export function carriesRequestId(outgoing: ServerResponse): boolean {
  return (outgoing as Marked)[idInReply] === true;
}

/**
 * A JSON reply with headers of its own, made without a WHATWG `Headers` and without `setHeader`. Given more
 * than one header, `c.json` builds a `Headers` object, which @hono/node-server then copies out again; and a
 * header set on Node's response beforehand makes Node merge the reply's headers into it one `setHeader` at
 * a time. Behind the adapter every header (type, length and the request id too) goes in one plain object
 * instead, which the adapter hands to a single `writeHead`: a measurable share of a served call in a CPU
 * and an allocation profile. Without Node (`app.request()`) they go through Hono.
 *
 * Takes `headers` over: the caller passes an object of its own, which becomes the reply's.
 */
export function jsonReply<E extends { Bindings: Partial<NodeBindings> & { requestId?: string } }>(
  c: Context<E>,
  body: object,
  status: ContentfulStatusCode,
  headers: Record<string, string>,
): Response {
  const outgoing = c.env?.outgoing;
  if (!outgoing || outgoing.headersSent) return c.json(body, status, headers);
  const json = JSON.stringify(body);
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(Buffer.byteLength(json));
  const id: string | undefined = c.env.requestId;
  if (id !== undefined) {
    headers['x-request-id'] = id;
    (outgoing as Marked)[idInReply] = true;
  }
  return new Response(json, { status, headers });
}
