import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { importUserModule } from '../../build-mode.ts';
import { describeImportError } from '../source-errors.ts';
import type { ProbeReply, ProbeRequest } from './probe.ts';

/**
 * The isolated half of a handler check (see probe.ts): imports the file and runs its example through its
 * schema and `pre`, in a thread of its own. Only finishing matters here: a throw from the schema or `pre` is
 * reported by the runtime's own checks, which run them again with the model's input shapes at hand.
 */
const { file } = workerData as ProbeRequest;
const reply = (r: ProbeReply) => parentPort!.postMessage(r);

let mod: { default?: { input?: unknown; pre?: unknown; example?: unknown } };
try {
  mod = (await importUserModule(pathToFileURL(file).href)) as typeof mod;
} catch (err) {
  reply({ ok: false, stage: 'import', message: describeImportError(err) });
  process.exit(0);
}
reply({ ok: true, stage: 'import' });
const def = mod.default;
const schema = (def?.input as { '~standard'?: { validate(v: unknown): unknown } } | undefined)?.['~standard'];
if (def && schema && typeof def.pre === 'function' && 'example' in def) {
  // A promise that never settles would otherwise end the thread with code 13 (an unsettled top-level
  // await): keep it alive, so the time limit says what happened.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    const checked = (await schema.validate(def.example)) as { value?: unknown; issues?: unknown };
    if (!checked.issues) await (def.pre as (x: unknown) => unknown)(checked.value);
  } catch {
    // Reported by the runtime's checks, with the model's shapes.
  }
  clearInterval(keepAlive);
}
reply({ ok: true, stage: 'example' });
