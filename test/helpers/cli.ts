import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const bin = new URL('../../runtime/cli/bin.mjs', import.meta.url).pathname;

export interface Running {
  proc: ChildProcess;
  url: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Everything the process wrote so far, stdout and stderr as they came (log lines included). */
  output: () => { stdout: string; stderr: string };
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/**
 * Runs `edgebatch <args>` to completion (bin.mjs, which runs the build in dist/ when it is current); returns
 * exit code, stdout and stderr. `nodeArgs` go to node before the script (`--import` a preload).
 */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeArgs, bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Starts a long-running `edgebatch start|dev` on a free loopback port and resolves once it listens
 * (read from its JSON log). Gives up after `timeoutMs`.
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Running> {
  const proc = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  let buffered = '';
  let stdout = '';
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const output = () => ({ stdout, stderr });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`edgebatch ${args[0]} did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    proc.stdout!.on('data', (d) => {
      stdout += d;
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'edgebatch listening') {
            clearTimeout(timer);
            resolve({ proc, url: entry.url as string, logs, output, exited });
          }
        } catch {
          /* not a log line */
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`edgebatch ${args[0]} exited with ${code} before listening: ${stderr}`));
    });
  });
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * A project for `edgebatch start|dev --config`: `dir/hono.config.ts` with `fields` (the object's body, in
 * TypeScript) after `functionsDir: 'functions'`, and each handler as `dir/functions/<name>.ts`. Returns the
 * config's path.
 */
export function writeProject(dir: string, fields: string, handlers: Record<string, string>): string {
  mkdirSync(path.join(dir, 'functions'), { recursive: true });
  const config = path.join(dir, 'hono.config.ts');
  writeFileSync(
    config,
    `import { defineConfig } from 'edgebatch';\nexport default defineConfig({\n  functionsDir: 'functions',\n  ${fields}\n});\n`,
  );
  for (const [name, source] of Object.entries(handlers)) writeFileSync(path.join(dir, 'functions', `${name}.ts`), source);
  return config;
}
