/**
 * What the hand-written peers (naive, dataloader) share: the same handler files the runtime serves
 * (their schema, `pre` and `post`, so they do exactly the same work per request), onnxruntime sessions
 * opened with the options a runtime lane uses, a Hono app on @hono/node-server, and the small surface the
 * harness reads: GET /stats and a few IPC messages (ready, idle?, stop), from peer-http.ts.
 *
 * The only thing a peer chooses is `infer`: how one prepared item reaches `session.run`.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { Hono } from 'hono';
import * as ort from 'onnxruntime-node';
import { loadConfig, parseDuration, type FunctionDefinition, type ItemTensor, type ResolvedConfig } from 'edgebatch';
import { PeerStats, servePeer, statsRoute } from './peer-http.ts';

export { PeerStats };

/** A handler file's definition with what the peer needs to know about it. */
export interface Handler {
  name: string;
  model: string;
  sloMs: number;
  def: FunctionDefinition;
}

export interface PeerModel {
  name: string;
  session: ort.InferenceSession;
  input: string;
  output: string;
  maxBatch: number;
}

/** What `infer` returns for one item: its slice of the model's first output and the batch it rode in. */
export interface Inferred {
  output: ItemTensor;
  batchSize: number;
  batchId: number;
}

export type Infer = (model: PeerModel, item: ItemTensor) => Promise<Inferred>;

/**
 * `session.run` as a user calls it, timed for the busy figure. onnxruntime-node runs the model
 * synchronously inside a setImmediate callback; the marker immediate queued just before it fires right
 * before that callback, so the span from the marker to the resumed await is the run itself, not the time
 * the call waited behind other work.
 */
export async function timedRun(model: PeerModel, data: Float32Array, dims: number[], stats: PeerStats): Promise<ort.Tensor> {
  let start = 0;
  setImmediate(() => (start = performance.now()));
  const out = await model.session.run({ [model.input]: new ort.Tensor('float32', data, dims) });
  stats.busyMs += performance.now() - start;
  stats.runs++;
  stats.items += dims[0];
  stats.maxBatch = Math.max(stats.maxBatch, dims[0]);
  stats.maxBatchBytes = Math.max(stats.maxBatchBytes, data.byteLength);
  return out[model.output];
}

/** Row `i` of a batched output, as the item `post` receives. */
export function rowOf(t: ort.Tensor, i: number): ItemTensor {
  const dims = t.dims.slice(1);
  const per = dims.reduce((a, d) => a * d, 1);
  return { data: (t.data as Float32Array).slice(i * per, (i + 1) * per), dims };
}

/** Imports the handler files by name from the config's functions folder. */
export async function loadHandlers(config: ResolvedConfig, names: readonly string[]): Promise<Map<string, Handler>> {
  const out = new Map<string, Handler>();
  for (const name of names) {
    const mod = (await import(pathToFileURL(path.join(config.functionsDir, `${name}.ts`)).href)) as { default: FunctionDefinition };
    out.set(name, { name, model: mod.default.model, sloMs: parseDuration(mod.default.slo), def: mod.default });
  }
  return out;
}

/** Opens each model once with the session options of a runtime lane (same intra-op thread count). */
export async function openModels(
  config: ResolvedConfig,
  names: readonly string[],
  device: 'cpu' | 'webgpu' = 'cpu',
): Promise<Map<string, PeerModel>> {
  const out = new Map<string, PeerModel>();
  for (const name of names) {
    const m = config.models[name];
    const session = await ort.InferenceSession.create(m.file, {
      executionProviders: [device],
      intraOpNumThreads: config.threadsPerLane,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    out.set(name, { name, session, input: m.input ?? session.inputNames[0], output: session.outputNames[0], maxBatch: m.maxBatch });
  }
  return out;
}

const error = (code: string, message: string) => ({ error: { code, message } });

/** The peer's HTTP app: POST /functions/:name does parse, validate, pre, infer, post, like the runtime. */
export function peerApp(handlers: Map<string, Handler>, models: Map<string, PeerModel>, infer: Infer, stats: PeerStats): Hono {
  const app = new Hono();
  statsRoute(app, stats);
  app.post('/functions/:name', async (c) => {
    const h = handlers.get(c.req.param('name'));
    if (!h) return c.json(error('not_found', `function "${c.req.param('name')}" does not exist`), 404);
    stats.inflight++;
    try {
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch (err) {
        return c.json(error('bad_json', (err as Error).message), 400);
      }
      const checked = await h.def.input['~standard'].validate(body);
      if (checked.issues) return c.json(error('invalid_input', checked.issues[0].message), 400);
      let item: ItemTensor;
      try {
        item = (await h.def.pre(checked.value as never)) as ItemTensor;
      } catch (err) {
        return c.json(error('invalid_input', (err as Error).message), 400);
      }
      const model = models.get(h.model)!;
      let inferred: Inferred;
      try {
        inferred = await infer(model, item);
      } catch (err) {
        return c.json(error('run_failed', (err as Error).message), 500);
      }
      const result = await h.def.post({ output: inferred.output, outputs: { [model.output]: inferred.output } }, checked.value as never);
      c.header('x-batch-size', String(inferred.batchSize));
      c.header('x-batch-id', String(inferred.batchId));
      return c.json(result as object);
    } finally {
      stats.inflight--;
    }
  });
  return app;
}

/**
 * Starts a peer from its `infer`: loads the config, the handlers named in argv[2] (comma-separated) and
 * their models, listens on 127.0.0.1 on a free port, and tells the harness over IPC.
 */
export async function runPeer(makeInfer: (stats: PeerStats) => Infer): Promise<void> {
  const names = (process.argv[2] ?? '').split(',').filter(Boolean);
  const config = await loadConfig('hono.config.ts', {}, { ...process.env, HOST: '127.0.0.1', PORT: '0' });
  const handlers = await loadHandlers(config, names);
  const models = await openModels(config, [...new Set([...handlers.values()].map((h) => h.model))]);
  const stats = new PeerStats();
  const infer = makeInfer(stats);
  // A first run per model outside the figures: onnxruntime's first run allocates and is slow.
  for (const m of models.values()) {
    const dims = (m.session.inputMetadata[0] as unknown as { shape: readonly (number | string)[] }).shape.map((d) =>
      typeof d === 'number' && d > 0 ? d : 1,
    );
    await m.session.run({ [m.input]: new ort.Tensor('float32', new Float32Array(dims.reduce((a, d) => a * d, 1)), dims) });
  }
  await servePeer(peerApp(handlers, models, infer, stats), stats);
}
