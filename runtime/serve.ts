import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { importUserModule } from './build-mode.ts';
import { mergeConfig, resolveConfig, type ResolvedConfig, type UserConfig } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { Runtime } from './runtime.ts';
import { createApp } from './server/app.ts';
import { FrontDoor } from './server/front-door.ts';
import { InFlight } from './server/in-flight.ts';
import { listen, type Listening } from './server/listen.ts';
import { writeErrorReply } from './server/error-reply.ts';
import { OverloadedError } from './errors.ts';
import type { Hono } from 'hono';
import type { AppEnv } from './server/app-env.ts';

/**
 * Imports hono.config.ts (or the given file) and resolves it against its folder, with `overrides` merged
 * over it block by block ({@link mergeConfig}). A bad option throws a TypeError that names the file.
 */
export async function loadConfig(
  file = 'hono.config.ts',
  overrides: Partial<UserConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedConfig> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new Error(`config file ${file} not found`);
  const mod = (await importUserModule(pathToFileURL(abs).href)) as { default?: UserConfig };
  if (!mod.default) throw new Error(`${file} must \`export default defineConfig({...})\``);
  return resolveConfig(mergeConfig(mod.default, overrides), path.dirname(abs), env, file);
}

export interface Serving {
  readonly runtime: Runtime;
  readonly app: Hono<AppEnv>;
  readonly listening: Listening;
  readonly url: string;
  /**
   * Graceful stop: refuse new connections, answer everything accepted, close the lanes; at most
   * `shutdownGrace` after it began, whatever is left is answered 503 and the lanes closed at once.
   */
  stop(): Promise<void>;
}

/**
 * Starts a runtime and its HTTP server. Resolves once the socket is bound and every model and function
 * has loaded.
 *
 * @example
 * const s = await serve(await loadConfig('hono.config.ts', { port: 0 }));
 * await fetch(`${s.url}/functions`);
 * await s.stop();
 */
export async function serve(config: ResolvedConfig, log: Logger = createLogger(config.logLevel, config.logPretty)): Promise<Serving> {
  const runtime = new Runtime(config, log);
  const inFlight = new InFlight();
  const door = new FrontDoor(runtime, inFlight);
  const app = createApp(runtime, inFlight, door);
  await runtime.start();
  const listening = await listen(app, config.host, config.port, (req, res) => door.screen(req, res), { limits: config.limits, log });
  const failedModels = Object.fromEntries(
    Object.entries(runtime.modelStatuses()).flatMap(([m, st]) => (st.state === 'failed' ? [[m, st.error]] : [])),
  );
  log.info(
    {
      url: listening.url,
      functions: runtime.functions.list().map((f) => f.name),
      device: config.device,
      admin: config.adminToken ? 'on' : 'off (no admin token configured)',
      ...(Object.keys(failedModels).length ? { failedModels } : {}),
    },
    'edgebatch listening',
  );
  // Connections the kernel has queued but the server has not yet accepted would be reset by closing the
  // listener at once, although their requests were sent before the signal. So: mark every reply
  // `Connection: close`, keep accepting until no connection has arrived for 100 ms (at most the grace
  // period), then stop listening, answer every request on the connections accepted, close the lanes.
  const graceful = async () => {
    inFlight.draining = true;
    await listening.acceptQueueDrained(100, config.shutdownGraceMs);
    await listening.close();
    await inFlight.idle();
    await runtime.close();
  };
  // A call that never finishes (a hung handler) must not hold the process: past the grace period what is
  // left is answered 503 and its connection closed, and the lanes close without waiting for the queues.
  const cutShort = async () => {
    const over = new OverloadedError(`the runtime is shutting down and its grace period of ${config.shutdownGraceMs} ms is over`, 1);
    const answered = listening.abort((res) => writeErrorReply(res, over, { connection: 'close' }));
    log.warn({ answered503: answered, shutdownGraceMs: config.shutdownGraceMs }, 'grace period over: calls still running answered 503');
    await runtime.closeDevices();
  };
  let stopping: Promise<void> | undefined;
  return {
    runtime,
    app,
    listening,
    url: listening.url,
    stop: () =>
      (stopping ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'over'>((r) => (timer = setTimeout(r, config.shutdownGraceMs, 'over')));
        if ((await Promise.race([graceful(), deadline])) === 'over') await cutShort();
        clearTimeout(timer);
        log.info('edgebatch stopped');
      })()),
  };
}
