/**
 * The ceiling: a bare loop of `session.run` with no HTTP, no pre/post, no queue, at the best batch size,
 * on the same machine with the session options of a runtime lane. Run as its own process while nothing
 * else runs. argv[2] is JSON { items: [{ model, fn }], msPerSize, msAtBest, device? }: each model is timed at
 * batch sizes 1, 2, 4, ... up to its maxBatch, then again at the best one, on `device` (default cpu; the
 * webgpu bench passes webgpu). Reports items/s over IPC.
 */
import * as ort from 'onnxruntime-node';
import { loadConfig, type ItemTensor } from 'edgebatch';
import { fitTheilSen } from '../../runtime/scheduler/cost-fit.ts';
import { loadHandlers, openModels } from './peers/peer-kit.ts';

export interface CeilingResult {
  model: string;
  bestBatch: number;
  itemsPerSec: number;
  /** Mean ms per batch at each size tried. */
  perSize: { batch: number; ms: number; itemsPerSec: number }[];
  /** The runtime's own fit (Theil-Sen, clamped at 0) through perSize: tau(b) = alphaMs*b + tau0Ms. */
  alphaMs: number;
  tau0Ms: number;
}

async function timeBatch(session: ort.InferenceSession, input: string, item: ItemTensor, b: number, budgetMs: number): Promise<number> {
  const per = item.data.length;
  const data = new Float32Array(per * b);
  for (let i = 0; i < b; i++) data.set(item.data as Float32Array, i * per);
  const feeds = { [input]: new ort.Tensor('float32', data, [b, ...item.dims]) };
  await session.run(feeds);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs || n < 3) {
    await session.run(feeds);
    n++;
  }
  return (performance.now() - t0) / n;
}

const args = JSON.parse(process.argv[2] ?? '{}') as {
  items: { model: string; fn: string }[];
  msPerSize: number;
  msAtBest: number;
  device?: 'cpu' | 'webgpu';
};
const config = await loadConfig('hono.config.ts', {}, { ...process.env, HOST: '127.0.0.1', PORT: '0' });
const handlers = await loadHandlers(
  config,
  args.items.map((i) => i.fn),
);
const models = await openModels(
  config,
  args.items.map((i) => i.model),
  args.device,
);
const results: CeilingResult[] = [];
for (const { model, fn } of args.items) {
  const m = models.get(model)!;
  const h = handlers.get(fn)!;
  const checked = await h.def.input['~standard'].validate(h.def.example);
  if (checked.issues) throw new Error(`example of ${fn} does not validate`);
  const item = (await h.def.pre(checked.value as never)) as ItemTensor;
  const perSize: CeilingResult['perSize'] = [];
  for (let b = 1; b <= m.maxBatch; b *= 2) {
    const ms = await timeBatch(m.session, m.input, item, b, args.msPerSize);
    perSize.push({ batch: b, ms, itemsPerSec: (1000 * b) / ms });
  }
  const best = perSize.reduce((a, p) => (p.itemsPerSec > a.itemsPerSec ? p : a));
  const ms = await timeBatch(m.session, m.input, item, best.batch, args.msAtBest);
  const line = fitTheilSen(
    perSize.map((p) => p.batch),
    perSize.map((p) => p.ms),
  );
  results.push({
    model,
    bestBatch: best.batch,
    itemsPerSec: (1000 * best.batch) / ms,
    perSize,
    alphaMs: line?.alphaMs ?? NaN,
    tau0Ms: line?.tau0Ms ?? NaN,
  });
}
process.send!({ type: 'result', results });
process.exit(0);
