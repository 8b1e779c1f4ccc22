import { createHash } from 'node:crypto';
import type { LoadedFunction } from '../../functions/load.ts';
import { summarize } from '../../introspect.ts';
import type { Runtime } from '../../runtime.ts';
import { requestSchemaOf } from './request-schema.ts';

/** An OpenAPI 3.1 document, as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & { openapi: '3.1.0'; paths: Record<string, unknown> };

/** `mlp-classify` -> `mlpClassify`: operation ids become method names in generated clients. */
export function operationIdOf(name: string): string {
  return name.replace(/[-_]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The error replies of README's error table, as OpenAPI responses. Every one has the runtime's error body;
 * the codes say which rows of the table can answer with that status.
 */
const errorResponses = {
  '400': response(
    "The body is not JSON (`bad_json`), fails the schema (`invalid_input`, with every issue and its path), does not make an item the model accepts (`bad_shape`), holds a number its model input's element type cannot hold (`out_of_range`), or `x-slo-ms` is not a positive number (`bad_request`).",
  ),
  '404': response('The function does not exist (`not_found`), e.g. it was deleted since this document was read.'),
  '413': response('The body is larger than `limits.bodyBytes` (`payload_too_large`).'),
  '415': response(
    "The body (or a multipart body's file part) is neither JSON nor a raw type the function takes (`unsupported_media_type`).",
  ),
  '422': response(
    'The call is valid but its own work (its `pre` alone, plus its batch alone on the device) takes longer than its SLO, so it can never be answered in time (`too_expensive`); no Retry-After, as no retry helps.',
  ),
  '500': response(
    "The model run failed for this call's batch, or `post` threw (`run_failed`, with `errorId` and, for a batch, `batchId`).",
  ),
  '504': response(
    "The handler's `pre` or `post` did not finish within its time limit (`hook_timeout`, with the `hook` and its `limitMs`).",
  ),
  '503': response(
    'The queue is full or the SLO cannot be met at the current load (`overloaded`), or the model could not be loaded (`model_unavailable`). Retry after `Retry-After` seconds.',
    {
      'retry-after': { description: 'Seconds to wait before calling again.', schema: { type: 'integer', minimum: 1 } },
    },
  ),
};

function response(description: string, headers?: Record<string, unknown>) {
  return {
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    ...(headers ? { headers } : {}),
  };
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: [
            'bad_json',
            'invalid_input',
            'bad_shape',
            'bad_request',
            'out_of_range',
            'not_found',
            'payload_too_large',
            'unsupported_media_type',
            'too_expensive',
            'overloaded',
            'model_unavailable',
            'run_failed',
            'hook_timeout',
            'internal',
          ],
        },
        message: { type: 'string' },
        issues: {
          type: 'array',
          description: 'invalid_input: every schema issue',
          items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
        },
        errorId: { type: 'string', description: 'run_failed: the id the server logged the failure under' },
        batchId: { type: 'integer', description: 'run_failed: the batch that failed' },
        retryAfterSec: { type: 'number', description: 'overloaded: as Retry-After' },
        hook: { type: 'string', enum: ['pre', 'post'], description: 'hook_timeout: the hook that ran past its limit' },
        limitMs: { type: 'number', description: 'hook_timeout: that limit, ms' },
      },
    },
  },
};

const replyHeaders = {
  'x-batch-id': { description: 'The batch this call rode in.', schema: { type: 'string' } },
  'x-batch-size': { description: 'Items in that batch, from every function on the model.', schema: { type: 'string' } },
  'x-function-version': { description: 'Content hash of the handler version that answered.', schema: { type: 'string' } },
  'server-timing': { description: 'pre, queue, inference, post and total, in ms.', schema: { type: 'string' } },
  'x-request-id': { description: "The request id (the client's own when it sent a valid one).", schema: { type: 'string' } },
};

/**
 * The raw body types a function takes (its `raw` option), each as bytes, and then a multipart form whose
 * first file part is taken (documented as the field `file`, the name `curl -F file=@...` gives it).
 */
function rawContent(fn: LoadedFunction): Record<string, { schema: Record<string, unknown> }> {
  const types = fn.definition.raw?.types;
  if (!types) return {};
  const bytes = { type: 'string', format: 'binary' };
  const form = { type: 'object', properties: { file: bytes }, required: ['file'] };
  return { ...Object.fromEntries(types.map((t) => [t, { schema: bytes }])), 'multipart/form-data': { schema: form } };
}

/** One function as one operation: `POST /functions/<name>`. */
function operation(rt: Runtime, fn: LoadedFunction) {
  const s = summarize(rt, fn);
  const body = requestSchemaOf(fn.definition.input);
  return {
    operationId: operationIdOf(fn.name),
    summary: fn.definition.description ?? `Call ${fn.name}`,
    description: `Runs on model \`${s.model}\` with an SLO of ${s.sloMs} ms; calls of every function on the model are batched together. Version \`${s.version}\` (from a ${s.origin}).${s.warning ? ` Warning: ${s.warning}` : ''}`,
    tags: [s.model],
    'x-edgebatch': { model: s.model, sloMs: s.sloMs, version: s.version, origin: s.origin, schemaExported: body.exported },
    parameters: [
      {
        name: 'x-slo-ms',
        in: 'header',
        required: false,
        description: 'Tightens (never loosens) the SLO for this call, in ms.',
        schema: { type: 'number', exclusiveMinimum: 0 },
      },
      {
        name: 'x-request-id',
        in: 'header',
        required: false,
        description: 'Your own request id, echoed back.',
        schema: { type: 'string', pattern: '^[A-Za-z0-9_=-]{1,255}$' },
      },
    ],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: body.schema, example: fn.definition.example }, ...rawContent(fn) },
    },
    responses: {
      '200': {
        description: "The handler's JSON reply (handlers declare no output schema).",
        headers: replyHeaders,
        content: { 'application/json': { schema: {} } },
      },
      ...errorResponses,
    },
  };
}

/**
 * The OpenAPI 3.1 document of the functions served now, built on each request from the registry, so a
 * deploy or a save in dev shows at once. `info.version` is a digest of the functions' versions: it
 * changes exactly when a generated client may need regenerating.
 */
export function openApiDocument(rt: Runtime): OpenApiDocument {
  const fns = rt.functions.list();
  const version = createHash('sha256')
    .update(fns.map((f) => `${f.name}@${f.version}`).join('\n'))
    .digest('hex')
    .slice(0, 12);
  return {
    openapi: '3.1.0',
    info: {
      title: 'edgebatch functions',
      version,
      description:
        "Every function this runtime serves, one operation each. The request schemas are generated from the handlers' input schemas; the examples are the handlers' own.",
    },
    paths: Object.fromEntries(fns.map((fn) => [`/functions/${fn.name}`, { post: operation(rt, fn) }])),
    components: { schemas: { Error: errorSchema } },
  };
}
