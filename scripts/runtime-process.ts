/**
 * The runtime as a child process on 127.0.0.1, for the measuring scripts (`npm run profile`, `npm run
 * host-cost`): `edgebatch start` with hono.config.ts as shipped, awaited until `/readyz` answers, stopped with
 * SIGTERM (so a `--cpu-prof` run writes its profile) and killed only past a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';

export interface RuntimeProcessOptions {
  /** The repository root: where `runtime/cli/bin.mjs` and hono.config.ts are. */
  root: string;
  /** The port to listen on; 0 (the default) picks one that was free a moment before, retried once if taken. */
  port?: number;
  /** Node options before the CLI (`--cpu-prof`, ...). */
  nodeArgs?: string[];
  /** The runtime's log level (default `error`: the scripts measure, they do not read logs). */
  logLevel?: string;
  /** Where the runtime's stdout and stderr go (appended); nowhere when unset. */
  logFile?: string;
  /** More environment for the runtime (its HOST, PORT and LOG_LEVEL are set from the options above). */
  env?: NodeJS.ProcessEnv;
  /** How long `/readyz` may take to answer 200 (default 120 s: the first start generates the models). */
  readyTimeoutMs?: number;
}

export interface RuntimeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs` (default 20 s); resolves with the exit code (null: a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback port nobody listens on right now (the kernel's pick for port 0, released at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function launch(opts: RuntimeProcessOptions, port: number): RuntimeProcess {
  const fd = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), 'runtime/cli/bin.mjs', 'start'], {
    cwd: opts.root,
    env: { ...process.env, ...opts.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: opts.logLevel ?? 'error' },
    stdio: ['ignore', fd, fd],
  });
  if (typeof fd === 'number') closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop(graceMs = 20000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(killer);
        return code;
      }
      return exited;
    },
  };
}

/** Resolves once `/readyz` answers 200; false when the process exits first. */
async function ready(rt: RuntimeProcess, timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (rt.child.exitCode !== null || rt.child.signalCode !== null) return false;
    const ok = await fetch(`${rt.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return true;
    await sleep(250);
  }
  await rt.stop(1000);
  throw new Error(`the runtime was not ready within ${timeoutMs / 1000} s`);
}

/**
 * Starts the runtime and waits until it is ready. With port 0 the port is picked just before the start,
 * so another process may take it in between: a runtime that exits before it is ready is then started once
 * more on a fresh port; any other early exit is an error.
 */
export async function startRuntimeProcess(opts: RuntimeProcessOptions): Promise<RuntimeProcess> {
  const tries = opts.port ? 1 : 2;
  for (let i = 1; ; i++) {
    const rt = launch(opts, opts.port || (await freePort()));
    if (await ready(rt, opts.readyTimeoutMs ?? 120000)) return rt;
    if (i >= tries)
      throw new Error(
        `the runtime exited with ${rt.child.exitCode ?? rt.child.signalCode} before it was ready${opts.logFile ? ` (log ${opts.logFile})` : ''}`,
      );
  }
}
