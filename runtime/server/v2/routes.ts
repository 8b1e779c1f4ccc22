/**
 * The Open Inference Protocol (KServe v2) REST routes over the models of hono.config.ts, as a Hono sub-app
 * mounted at `/v2`. An infer call goes through the runtime like a function call (door admission before its
 * body is read, its deadline, cancellation when the client leaves); its n rows become n items of the
 * model's queue and share batches with the functions' calls.
 */
import { Hono, type Context } from 'hono';
import type { BatchOutcome } from '../../batching/model-batcher.ts';
import { EdgebatchError, ModelUnavailableError, NotFoundError } from '../../errors.ts';
import type { ModelMeta } from '../../lanes/protocol.ts';
import type { Runtime } from '../../runtime.ts';
import type { AppEnv } from '../app-env.ts';
import { CallRequest } from '../call.ts';
import { errorReply, type ErrorBody } from '../error-reply.ts';
import { jsonReply } from '../json-reply.ts';
import { callTiming } from '../server-timing.ts';
import { binaryChunks, headerLengthName, joinBody, splitBody } from './binary.ts';
import { chooseOutputs, decodeRows, encodeOutput, gatherOutput, type OutputChoice } from './codec.ts';
import { modelMetadata, modelVersion, serverMetadata } from './metadata.ts';
import { parseInferenceRequest, type InferenceRequest } from './schema.ts';

/** The protocol's error body: `{ "error": "message" }` (an error id, when there is one, goes in the message). */
const v2Body: ErrorBody = (_code, message, details) => ({ error: details?.errorId ? `${message} (error id ${details.errorId})` : message });

/** The distinct batches a call's rows rode in, in row order. */
function batchesOf(outcomes: readonly BatchOutcome[]): BatchOutcome[] {
  const seen = new Set<number>();
  return outcomes.filter((b) => !seen.has(b.batchId) && seen.add(b.batchId));
}

/**
 * The `/v2` routes of a runtime.
 *
 * @example
 * app.route('/v2', v2Routes(rt)); // POST /v2/models/mlp/infer
 */
export function v2Routes(rt: Runtime): Hono<AppEnv> {
  const v2 = new Hono<AppEnv>();
  v2.onError((err, c) => errorReply(c, err, rt.log, v2Body));

  /** The model a route names, checked: 404 for an unknown model or version. */
  const modelOf = (c: Context<AppEnv>): string => {
    const model = c.req.param('model') ?? '';
    if (!rt.pipeline(model)) throw new NotFoundError('model', model);
    const version = c.req.param('version');
    if (version !== undefined && version !== modelVersion)
      throw new EdgebatchError('not_found', 404, `model "${model}" has no version "${version}"; its one version is "${modelVersion}"`);
    return model;
  };

  /** The model's metadata once it is open; 503 while it loads or when it failed to. */
  const metaOf = (model: string): ModelMeta => {
    const status = rt.pipeline(model)?.status;
    if (status?.state === 'failed') throw new ModelUnavailableError(model, status.error);
    const meta = rt.models.meta(model);
    if (!meta) throw new ModelUnavailableError(model, 'it is still loading');
    return meta;
  };

  // Health: the status is the answer; an empty body satisfies both versions of the spec.
  v2.get('/health/live', (c) => c.body(null, 200));
  v2.get('/health/ready', (c) => c.body(null, rt.ready ? 200 : 503));
  v2.get('/', (c) => c.json(serverMetadata()));

  const bodyBytes = rt.config.limits.bodyBytes;
  for (const path of ['/models/:model', '/models/:model/versions/:version']) {
    v2.get(path, (c) => {
      const model = modelOf(c);
      return c.json(modelMetadata(model, metaOf(model)));
    });
    v2.get(`${path}/ready`, (c) => c.body(null, rt.pipeline(modelOf(c))?.status.state === 'ready' ? 200 : 503));
    v2.post(`${path}/infer`, async (c) => {
      const model = modelOf(c);
      const stages = rt.stages;
      const call = new CallRequest(c, bodyBytes, stages);
      let request: InferenceRequest | undefined;
      let outputs: OutputChoice[] = [];
      // Runs only once the call is admitted at the door.
      const readRows = async (meta: ModelMeta) => {
        const { json, binary } = splitBody(await call.body(), call.header(headerLengthName));
        let t = performance.now();
        request = parseInferenceRequest(json);
        const now = performance.now();
        stages.add('parse', now - t);
        t = now;
        outputs = chooseOutputs(request.outputs, request.parameters, meta, model);
        // An element takes at least one byte of any body, so a shape of more elements than the body limit
        // cannot be honest: refused before anything is allocated.
        const rows = decodeRows(request.inputs, binaryChunks(request.inputs, binary), meta, model, { maxElements: bodyBytes });
        stages.add('pre', performance.now() - t);
        return rows;
      };
      const r = await call.run(rt.invokeRows(model, readRows, call.options()));
      const t = performance.now();
      const encoded = outputs.map((o) =>
        encodeOutput(
          gatherOutput(
            o.name,
            r.batches.map((b) => b.outputs[o.name]),
          ),
          o.binary,
        ),
      );
      const head = {
        model_name: model,
        model_version: modelVersion,
        ...(request?.id !== undefined ? { id: request.id } : {}),
        ...(request?.parameters ? { parameters: request.parameters } : {}),
        outputs: encoded.map((e) => e.tensor),
      };
      const batches = batchesOf(r.batches);
      // Rows of one call can ride in more than one batch: each batch once, in row order.
      const headers: Record<string, string> = {
        'x-batch-id': batches.map((b) => b.batchId).join(','),
        'x-batch-size': batches.map((b) => b.batchSize).join(','),
        'server-timing': callTiming(
          {
            preMs: r.preMs,
            queueMs: Math.max(...batches.map((b) => b.queueMs)),
            inferenceMs: Math.max(...batches.map((b) => b.inferenceMs)),
          },
          c.env.arrivalMs,
        ),
      };
      const chunks = encoded.flatMap((e) => (e.chunk ? [e.chunk] : []));
      let res: Response;
      if (chunks.length === 0) res = jsonReply(c, head, 200, headers);
      else {
        const { body, headerLength } = joinBody(JSON.stringify(head), chunks);
        res = c.body(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length), 200, {
          ...headers,
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(headerLength),
        });
      }
      stages.add('reply', performance.now() - t);
      return res;
    });
  }
  return v2;
}
