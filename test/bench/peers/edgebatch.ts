/**
 * Peers 3-5: the runtime itself, started from hono.config.ts with one policy for the benchmarked models
 * (`fixed-delay`, `greedy` or `slo`). argv[2] is JSON: { policy, models, fixedDelay? } where `models`
 * names the models to open and `fixedDelay` maps a model to its Triton-style setting. The runtime is
 * used as shipped: from the build (harness/processes.ts's forkRuntimePeer gives it a tsconfig that leaves
 * `edgebatch` to package.json, so it is dist/, as `npm start` runs it, not the sources through tsx), and figures come from
 * its own GET /metrics and GET /functions/:name.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { loadConfig, serve, type UserConfig } from 'edgebatch';
import type { RuntimePeerArgs } from '../harness/processes.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as RuntimePeerArgs;
const file = 'hono.config.ts';
const base = ((await import(pathToFileURL(path.resolve(file)).href)) as { default: UserConfig }).default;
const models: UserConfig['models'] = {};
for (const name of args.models) {
  const fd = args.fixedDelay?.[name];
  models[name] = {
    ...base.models[name],
    policy: args.policy,
    ...(fd ? { fixedDelay: { maxQueueDelay: `${fd.maxQueueDelayMs}ms`, preferredBatchSize: fd.preferredBatchSize } } : {}),
  };
}
// Handlers on models left out (e.g. read-line on ocr-rec) are refused at load with a warning: not served here.
const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'error' };
const serving = await serve(await loadConfig(file, { models }, env));

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'idle?') {
    const idle = [...serving.runtime.pipelines()].every((p) => p.idle);
    process.send!({ type: 'idle', idle });
  }
  if (msg.type === 'stop') {
    // Queues are empty by now (the harness waited for idle); a bounded stop keeps a stuck peer from hanging.
    const t = setTimeout(() => process.exit(0), 5000);
    void serving.stop().finally(() => {
      clearTimeout(t);
      process.exit(0);
    });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready', url: serving.url });
