import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NodeBindings } from './node-request.ts';

/**
 * A JSON reply with headers of its own, made without a WHATWG `Headers`. Given more than one header,
 * `c.json` builds a `Headers` object, which @hono/node-server then copies out again: a measurable share of
 * a served call in a CPU profile. Behind the adapter the headers go straight onto Node's response instead,
 * which merges them into the head the adapter writes; without Node (`app.request()`) they go through Hono.
 */
export function jsonReply<E extends { Bindings: Partial<NodeBindings> }>(
  c: Context<E>,
  body: object,
  status: ContentfulStatusCode,
  headers: Record<string, string>,
): Response {
  const outgoing = c.env?.outgoing;
  if (!outgoing || outgoing.headersSent) return c.json(body, status, headers);
  for (const name in headers) outgoing.setHeader(name, headers[name]);
  return c.json(body, status);
}
