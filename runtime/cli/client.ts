import http from 'node:http';
import https from 'node:https';
import { hc, type ClientResponse } from 'hono/client';
import { defaults } from '../defaults.ts';
// A type only: the CLI's client commands start without loading the runtime.
import type { AppType } from '../server/app.ts';

/** Where the CLI finds a runtime started with the default host and port. */
export const defaultUrl = `http://${defaults.host}:${defaults.port}`;

/** Talks to a running runtime for the CLI: base URL and admin token from flags or the environment. */
export interface Target {
  url: string;
  token: string | undefined;
}

export function targetFrom(flags: { url?: string }): Target {
  return { url: (flags.url ?? process.env.EDGEBATCH_URL ?? defaultUrl).replace(/\/$/, ''), token: process.env.EDGEBATCH_ADMIN_TOKEN };
}

export class RequestFailed extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const msg = (body as { error?: { message?: string } })?.error?.message ?? JSON.stringify(body);
    super(`HTTP ${status}: ${msg}`);
  }
}

/**
 * Hono's `hc` client typed by the runtime's own routes (server/app.ts's AppType): paths, parameters and
 * reply bodies come from the server's code, not from copies of it. A runtime that cannot be reached is one
 * plain message.
 */
export function clientFor(target: Target) {
  return hc<AppType>(target.url, {
    fetch: async (input: string | URL | Request, init?: RequestInit) => {
      try {
        return await overNodeHttp(input, init);
      } catch (err) {
        throw new Error(`cannot reach ${target.url}: ${(err as Error).message}`);
      }
    },
  });
}

/** A function name as `hc` path parameter: percent-encoded, as hc puts parameters into the path as they are. */
export function nameParam(name: string): { name: string } {
  return { name: encodeURIComponent(name) };
}

/**
 * The fetch `hc` calls, over node:http(s): Node's fetch refuses the WHATWG "bad ports" (6000, 10080, ...),
 * on which a runtime may well listen.
 */
function overNodeHttp(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, key) => (headers[key] = value));
  const body = init.body === undefined || init.body === null ? undefined : String(init.body);
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const replyHeaders = new Headers();
        for (const [key, value] of Object.entries(res.headers)) {
          if (value !== undefined) replyHeaders.set(key, Array.isArray(value) ? value.join(', ') : value);
        }
        // A Response may not carry a body on these, even an empty one.
        const noBody = method === 'HEAD' || status === 204 || status === 304;
        resolve(new Response(noBody ? null : Buffer.concat(chunks), { status, headers: replyHeaders }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export type Client = ReturnType<typeof clientFor>;

/** The admin API's bearer header (none without a token: the runtime's 401 is then explained by {@link replyOf}). */
export function adminHeaders(target: Target): Record<string, string> {
  return target.token ? { authorization: `Bearer ${target.token}` } : {};
}

/**
 * A reply's JSON (null for an empty body), typed as the route's success; a non-2xx reply throws
 * {@link RequestFailed} with the runtime's error body, and a 401 from the admin API says which case it is.
 */
export async function replyOf<T>(res: ClientResponse<T>, target: Target, admin = false): Promise<T> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: keep the text */
  }
  if (res.status === 401 && admin) throw new Error(unauthorizedHint(target));
  if (!res.ok) throw new RequestFailed(res.status, parsed);
  return parsed as T;
}

/** A 401 from the admin API says only "a valid bearer token is required"; the client knows which case it is. */
function unauthorizedHint(target: Target): string {
  return target.token
    ? `HTTP 401: ${target.url} refused the token in EDGEBATCH_ADMIN_TOKEN (it is not that runtime's admin token)`
    : `HTTP 401: EDGEBATCH_ADMIN_TOKEN is not set; export the runtime's admin token (admin.token in its hono.config.ts) to use this command`;
}
