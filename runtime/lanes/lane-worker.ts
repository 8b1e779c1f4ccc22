/**
 * A device lane: a worker thread that owns onnxruntime sessions. `session.run` blocks the thread it runs
 * on, so it runs here and never on the event loop that serves HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { sessionFailure, sessionOptions } from '../models/providers.ts';
import {
  transferList,
  type LaneOptions,
  type LaneReply,
  type LaneRequest,
  type ModelMeta,
  type ModelRef,
  type WireTensor,
} from './protocol.ts';

const options = workerData as LaneOptions;
// Before the first session: onnxruntime reads it once, when its environment is created.
ort.env.logLevel = options.nativeLogLevel;
const sessions = new Map<string, { file: string; session: ort.InferenceSession }>();

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]): ModelMeta['inputs'] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

async function open(model: ModelRef): Promise<ort.InferenceSession> {
  const have = sessions.get(model.name);
  if (have && have.file === model.file) return have.session;
  if (have) await have.session.release();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model.file, sessionOptions(options.device, options.threads));
  } catch (err) {
    throw sessionFailure(options.device, model, err);
  }
  sessions.set(model.name, { file: model.file, session });
  return session;
}

/** A reply and the buffers it moves to the main thread (a run's outputs, and its inputs handed back). */
type Outgoing = { reply: LaneReply; transfer?: ArrayBuffer[] };

async function handle(req: LaneRequest): Promise<Outgoing> {
  switch (req.type) {
    case 'load': {
      const s = await open(req.model);
      return { reply: { id: req.id, ok: true, meta: { inputs: describe(s.inputMetadata), outputs: describe(s.outputMetadata) } } };
    }
    case 'run': {
      const s = await open(req.model);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
      const start = performance.now();
      const result = await s.run(feeds);
      const runMs = performance.now() - start;
      const outputs: Record<string, WireTensor> = {};
      for (const [name, t] of Object.entries(result))
        outputs[name] = { type: t.type, data: t.data as WireTensor['data'], dims: [...t.dims] };
      // The run is over with its inputs: their buffers go back to be stacked into again, unless an output
      // shares one (a model that passes an input through).
      const outputBuffers = transferList(Object.values(outputs));
      const taken = new Set(outputBuffers);
      const inputs = transferList(Object.values(req.feeds)).filter((b) => !taken.has(b));
      return { reply: { id: req.id, ok: true, outputs, runMs, inputs }, transfer: [...outputBuffers, ...inputs] };
    }
    case 'unload': {
      const have = sessions.get(req.name);
      sessions.delete(req.name);
      if (have) await have.session.release();
      return { reply: { id: req.id, ok: true } };
    }
  }
}

// Requests are handled one at a time, in order: a lane runs one batch at a time by design.
let chain: Promise<void> = Promise.resolve();
parentPort!.on('message', (req: LaneRequest) => {
  chain = chain.then(async () => {
    let out: Outgoing;
    try {
      out = await handle(req);
    } catch (err) {
      out = { reply: { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } };
    }
    parentPort!.postMessage(out.reply, out.transfer ?? []);
  });
});
