/**
 * Child processes of the benchmark: every server, the load generator and the ceiling loop run as separate
 * Node processes (TypeScript through tsx), so none shares an event loop with another. Their output goes
 * to a log file under bench-results/tmp/; when one fails, the error names that file and quotes its tail.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PolicyName } from '../../../runtime/index.ts';

/** A failure of the harness itself (a process that does not start or dies): the bench exits non-zero. */
export class HarnessError extends Error {}

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  /** Sends `msg` and resolves with the first reply whose type is `replyType`. */
  ask<T>(msg: object, replyType: string, timeoutMs: number): Promise<T>;
  /** Resolves with the next message of `type`. */
  next<T>(type: string, timeoutMs: number): Promise<T>;
  /** Asks it to stop, then kills it (by its own pid) if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: boolean;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Forks `script` (a .ts file) under tsx with an IPC channel and advanced serialization (typed arrays pass
 * as they are). `cwd` is the repository root so `hono.config.ts` and the `edgebatch` self-import resolve.
 */
export function forkTs(
  name: string,
  script: string,
  args: string[],
  opts: { cwd: string; logDir: string; env?: NodeJS.ProcessEnv; /** More Node options (`--cpu-prof`, ...). */ nodeArgs?: string[] },
): Child {
  const logFile = path.join(opts.logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const proc = fork(script, args, {
    cwd: opts.cwd,
    execArgv: ['--import', 'tsx', ...(opts.nodeArgs ?? [])],
    serialization: 'advanced',
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, ...opts.env },
  });
  closeSync(fd);
  let exited = false;
  let exitInfo = '';
  const waiters = new Set<{ type: string; resolve: (m: any) => void; reject: (e: Error) => void }>();
  proc.on('message', (m: { type: string; error?: string }) => {
    for (const w of waiters) {
      if (m.type === w.type) {
        waiters.delete(w);
        w.resolve(m);
        return;
      }
      if (m.type === 'error') {
        waiters.delete(w);
        w.reject(new HarnessError(`${name} reported an error:\n${m.error}`));
        return;
      }
    }
  });
  proc.on('exit', (code, signal) => {
    exited = true;
    exitInfo = `exited with ${signal ?? `code ${code}`}`;
    for (const w of waiters) w.reject(new HarnessError(`${name} ${exitInfo} (log ${logFile}):\n${tail(logFile)}`));
    waiters.clear();
  });
  const next = <T>(type: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new HarnessError(`${name} ${exitInfo} (log ${logFile}):\n${tail(logFile)}`));
      const w = {
        type,
        resolve: (m: T) => {
          clearTimeout(t);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new HarnessError(`${name} gave no "${type}" within ${timeoutMs} ms (log ${logFile}):\n${tail(logFile)}`));
      }, timeoutMs);
      waiters.add(w);
    });
  return {
    name,
    proc,
    logFile,
    get exited() {
      return exited;
    },
    next,
    ask<T>(msg: object, replyType: string, timeoutMs: number) {
      const p = next<T>(replyType, timeoutMs);
      if (!exited) proc.send(msg);
      return p;
    },
    async stop(graceMs = 8000) {
      if (exited) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      try {
        proc.send({ type: 'stop' });
      } catch {
        // channel already closed
      }
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    },
  };
}

/** What the runtime peer (peers/edgebatch.ts) runs: a policy for the models it opens. */
export interface RuntimePeerArgs {
  policy: PolicyName;
  models: string[];
  fixedDelay?: Record<string, { maxQueueDelayMs: number; preferredBatchSize: number }>;
}

/**
 * Forks the runtime peer (peers/edgebatch.ts) as `npm start` runs the runtime: from the build. The project's
 * tsconfig maps `edgebatch` to the sources for tsx; the peer gets a tsconfig without that mapping, so the
 * name resolves through package.json to dist/ (which `bench`, `bench:quick`, `bench:v2` and `bench:edge`
 * build first).
 */
export function forkRuntimePeer(name: string, args: RuntimePeerArgs, opts: { cwd: string; logDir: string }): Child {
  return forkTs(name, path.join(opts.cwd, 'test/bench/peers/edgebatch.ts'), [JSON.stringify(args)], {
    ...opts,
    env: { TSX_TSCONFIG_PATH: path.join(opts.cwd, 'test/bench/peers/build-peer.tsconfig.json') },
  });
}
