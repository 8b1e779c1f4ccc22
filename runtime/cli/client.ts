import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { defaults } from '../defaults.ts';

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
 * One exchange over node:http(s). Not fetch: Node loads undici on fetch's first use, about 0.15 s of CPU at
 * every CLI start, more than the rest of a `list`.
 */
function exchange(url: URL, method: string, headers: Record<string, string | number>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a request; JSON replies are parsed; non-2xx replies throw {@link RequestFailed}. */
export async function request(target: Target, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; headers: IncomingHttpHeaders; body: unknown }> {
  const headers: Record<string, string | number> = {};
  if (body !== undefined) {
    headers['content-type'] = contentType;
    headers['content-length'] = Buffer.byteLength(body);
  }
  if (target.token && path.startsWith('/admin')) headers.authorization = `Bearer ${target.token}`;
  let res: Awaited<ReturnType<typeof exchange>>;
  try {
    res = await exchange(new URL(`${target.url}${path}`), method, headers, body);
  } catch (err) {
    throw new Error(`cannot reach ${target.url}: ${(err as Error).message}`);
  }
  let parsed: unknown = res.text;
  try {
    parsed = res.text ? JSON.parse(res.text) : null;
  } catch {
    /* not JSON: keep the text */
  }
  if (res.status === 401 && path.startsWith('/admin')) throw new Error(unauthorizedHint(target));
  if (res.status < 200 || res.status > 299) throw new RequestFailed(res.status, parsed);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** A 401 from the admin API says only "a valid bearer token is required"; the client knows which case it is. */
function unauthorizedHint(target: Target): string {
  return target.token
    ? `HTTP 401: ${target.url} refused the token in EDGEBATCH_ADMIN_TOKEN (it is not that runtime's admin token)`
    : `HTTP 401: EDGEBATCH_ADMIN_TOKEN is not set; export the runtime's admin token (admin.token in its hono.config.ts) to use this command`;
}
