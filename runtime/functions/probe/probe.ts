import { Worker } from 'node:worker_threads';
import { workerEntry } from '../../build-mode.ts';

/** What the check's worker is given. A worker has a module cache of its own, so a changed file is read afresh. */
export interface ProbeRequest {
  readonly file: string;
}

/** What the worker says: how far it got (`import`, then `example`), or why the import failed. */
export type ProbeReply = { ok: true; stage: 'import' | 'example' } | { ok: false; stage: 'import'; message: string };

export interface ProbeLimits {
  /** The longest the import and the example's schema + `pre` may take together, ms. */
  readonly timeoutMs: number;
  /** The worker's heap limit, MiB: a handler that allocates without end runs out here, not in the runtime. */
  readonly heapMb: number;
}

/**
 * Imports a handler file and runs its example through its schema and `pre` in a worker thread with a time
 * limit and a heap limit, before the runtime imports it itself. A file that calls `process.exit` at top
 * level, loops forever at import or in `pre`, or exhausts its heap then ends only that thread, and the
 * check says which. Resolves with the reason it is refused, or undefined when it finished.
 *
 * This guards against mistakes, not against an attacker: the worker shares the runtime's process, files
 * and network (see the README's trust model).
 */
export function probeHandler(file: string, limits: ProbeLimits): Promise<string | undefined> {
  return new Promise((resolve) => {
    let stage: 'starting' | ProbeReply['stage'] = 'starting';
    let settled = false;
    const worker = new Worker(workerEntry('probe-worker', new URL('./probe-bootstrap.mjs', import.meta.url)), {
      workerData: { file } satisfies ProbeRequest,
      resourceLimits: { maxOldGenerationSizeMb: limits.heapMb },
      // The handler's console output belongs to the runtime's log streams, as it would after loading.
      stdout: false,
      stderr: false,
    });
    const done = (problem: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Whatever the handler left running (a timer, a socket) ends with its thread.
      void worker.terminate();
      resolve(problem);
    };
    const what = () => (stage === 'import' ? 'running its example through `pre`' : 'being imported');
    const timer = setTimeout(
      () => done(`it did not finish ${what()} within ${limits.timeoutMs} ms (an endless loop, or a promise that never settles?)`),
      limits.timeoutMs,
    );
    worker.on('message', (r: ProbeReply) => {
      stage = r.stage;
      if (!r.ok) done(`cannot be imported: ${r.message}`);
      else if (r.stage === 'example') done(undefined);
    });
    worker.on('error', (err: Error) => done(`it failed while ${what()}: ${err.message}`));
    worker.on('exit', (code) => done(`it ended its thread (exit code ${code}, \`process.exit\`?) while ${what()}`));
  });
}
