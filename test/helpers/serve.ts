import { loadConfig, serve, type Serving, type UserConfig } from 'edgebatch';

/**
 * Starts the real runtime from hono.config.ts on a free loopback port, logging nothing.
 * Overrides merge into the file block by block (loadConfig); `models` replaces the file's set of models.
 */
export async function startRuntime(overrides: Partial<UserConfig> = {}, configFile = 'hono.config.ts'): Promise<Serving> {
  const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' };
  return serve(await loadConfig(configFile, overrides, env));
}

/** POST JSON to a function; returns status, headers and parsed body. */
export async function call(base: string, name: string, body: unknown, init: RequestInit = {}) {
  const res = await fetch(`${base}/functions/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
  const json = (await res.json()) as any;
  return { status: res.status, headers: res.headers, body: json };
}
