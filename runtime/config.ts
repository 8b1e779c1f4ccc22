import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defaults } from './defaults.ts';
import { durationExpected, durationMs, type Duration } from './duration.ts';

/**
 * The configuration as one zod schema: what a user may write in hono.config.ts (its input type is
 * {@link UserConfig}), every option validated and defaulted here once (its output, reshaped by
 * {@link resolveConfig} into the frozen {@link ResolvedConfig}). Every object is strict: an unknown key, a
 * typo, is refused by its path, not ignored. Adding an option is one line in a block below; a Duration comes
 * out as a number of ms.
 */

/**
 * Lanes of a webgpu device, and the only number allowed. onnxruntime-node keeps one Dawn device per process
 * (its options are first-device-wins), so sessions in two lanes share one WebGPU queue. Measured on lavapipe
 * with models/mlp-large.onnx: two lanes running at once did not overlap, they broke it: "WebGPU validation
 * failed. Command encoding already finished" or a segfault, which ends the whole process. One lane runs
 * batches one after another, as the formula models.
 */
export const WEBGPU_LANES = 1;

/** Each schema's message says what it expects; {@link configError} adds the path and what was given. */
const must = (expected: string) => ({ error: `must be ${expected}` });
const count = () => z.int(must('an integer >= 1')).min(1, must('an integer >= 1'));
const nonNegative = () => z.number(must('a finite number >= 0')).min(0, must('a finite number >= 0'));
const positive = () => nonNegative().positive(must('a number > 0'));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, must(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`));
const text = (expected: string) => z.string(must(expected)).min(1, must(expected));
const duration = () => z.custom<Duration>((v) => durationMs(v) !== undefined, must(durationExpected)).transform((v) => durationMs(v)!);
/** A block of options: strict, and present with its defaults when the user leaves it out. */
const block = <S extends z.ZodRawShape>(shape: S) => {
  const schema = z.strictObject(shape, must('an object'));
  // Every key of a block is optional or defaulted, which the generic type cannot see.
  return schema.prefault({} as z.input<typeof schema>);
};

/** How a model's queue decides when to dispatch and how much to take. See scheduler/policies/. */
const policy = oneOf(['slo', 'greedy', 'fixed-delay', 'none']);
export type PolicyName = z.output<typeof policy>;

/**
 * Where a model runs. `cpu`: onnxruntime's CPU provider (bundled). `webgpu`: onnxruntime-node's bundled WebGPU
 * provider, on Dawn over Vulkan (an NVIDIA GPU through its driver's Vulkan ICD, or Mesa's software lavapipe).
 * `cuda`: needs onnxruntime-node's CUDA provider files, which are not bundled.
 */
const device = oneOf(['cpu', 'cuda', 'webgpu']);
export type DeviceKind = z.output<typeof device>;

/** pino's levels. */
const logLevel = oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** An interface to listen on: an IPv4 or IPv6 address, or a host name. */
const host = z.union([z.ipv4(), z.ipv6(), z.hostname()], must('an IP address or a host name'));

/** One model as written in hono.config.ts. */
const modelSchema = z.strictObject(
  {
    /** Path to the .onnx file, relative to the config file or absolute. */
    file: text('a path to an .onnx file'),
    /** Where this model runs. Default: the top-level `device`. */
    device: device.optional(),
    /** Largest batch the model may run. Default 32. */
    maxBatch: count().default(32),
    /**
     * Bytes one batch's input and output tensors may occupy on the device. The batch cap becomes
     * min(maxBatch, floor(maxBatchBytes / bytes per item)), at least 1, with the bytes per item read from the
     * model's shapes when it loads (its non-batch dimensions must then be fixed). Activations inside the model
     * are not counted: leave headroom for them. Default: no memory cap.
     */
    maxBatchBytes: count().optional(),
    /** The input stacked along the batch axis. Default: the model's first input. */
    input: text("the name of one of the model's inputs").optional(),
    /**
     * How items whose shapes differ in a dynamic dimension share a batch. `pad` (default) pads each to the
     * largest in the batch with `padValue`; `bucket` only batches items of equal shape.
     */
    shapes: oneOf(['pad', 'bucket']).default('pad'),
    /** Value used to pad dynamic dimensions. Default 0. */
    padValue: nonNegative().default(0),
    /** Scheduling policy for this model. Default: `scheduler.policy`. */
    policy: policy.optional(),
    /** For `fixed-delay`: Triton-style maximum queue delay (default 5 ms) and preferred batch size (default `maxBatch`). */
    fixedDelay: block({ maxQueueDelay: duration().default(5), preferredBatchSize: count().optional() }),
    /**
     * Deadline of a v2 (Open Inference Protocol) call that sends no `x-slo-ms`. Default: the loosest SLO of
     * the functions on the model (1 s without any), so tensor clients never tighten the model's objective.
     */
    v2Slo: duration().optional(),
  },
  must('an object with at least { file }'),
);
export type ModelConfig = z.input<typeof modelSchema>;

const configSchema = z
  .strictObject(
    {
      /** Interface to listen on. Default `127.0.0.1`; the `HOST` environment variable overrides it. */
      host: host.default(defaults.host),
      /** Port to listen on. Default 8787; the `PORT` environment variable overrides it (0 picks a free port). */
      port: z
        .int(must('an integer 0-65535'))
        .min(0, must('an integer 0-65535'))
        .max(65535, must('an integer 0-65535'))
        .default(defaults.port),
      /** Folder of handler files, relative to the config file. Default `functions`. */
      functionsDir: text('a folder').default('functions'),
      /** Folder where deployed versions are kept. Default `.edgebatch`. */
      dataDir: text('a folder').default('.edgebatch'),
      /** Where models run unless a model says otherwise (see {@link DeviceKind}). Default `cpu`. */
      device: device.default('cpu'),
      /**
       * Worker threads that run batches (device lanes) on `cpu` or `cuda`. Default 1: one batch at a time, as
       * the formula models. A `webgpu` device always has {@link WEBGPU_LANES}; more is refused.
       */
      lanes: count().default(1),
      /**
       * onnxruntime intra-op threads per lane. Default: the machine's cores minus one (kept for the event loop,
       * which runs pre, post and HTTP), divided by lanes, at least 1. More threads than free cores make every
       * parallel section wait for a descheduled thread: on 2 cores, 2 threads ran a 1 ms MLP batch in 3-20 ms.
       */
      threadsPerLane: count().optional(),
      /** The models, by name. */
      models: z.record(z.string(), modelSchema, must('an object mapping model names to { file }')),
      scheduler: block({
        /** Default policy of every model. Default `slo`. */
        policy: policy.default('slo'),
        /** Safety margin kept before a deadline when deciding to hold. Default 2 ms. */
        margin: duration().default(defaults.scheduler.marginMs),
        /** The mean-latency objective of a model is this fraction of the tightest SLO using it, in (0, 1]. Default 0.5. */
        meanObjectiveFraction: z
          .number(must('in (0, 1]'))
          .gt(0, must('in (0, 1]'))
          .max(1, must('in (0, 1]'))
          .default(defaults.scheduler.meanObjectiveFraction),
        /** Shed when the predicted mean latency exceeds the objective by this factor. Default 2. */
        overloadFactor: nonNegative().default(defaults.scheduler.overloadFactor),
        /**
         * At the door, before a body is read, shed while the event loop's lag is over this fraction of the
         * call's SLO (at least 2 ms). Default 0.1. The loop, not the device, saturates first under overload; a
         * standing backlog in front of it makes every call late, so it is refused where refusing is cheap.
         */
        hostLagFraction: nonNegative().default(defaults.scheduler.hostLagFraction),
        /** Sliding window of batches the cost fit uses. Default 200. */
        fitWindow: count().default(defaults.scheduler.fitWindow),
        /**
         * Admission control: answer 503 at once to a call that cannot meet its SLO. Default true; false queues
         * every call (answers may then be late), which functional tests and policy comparisons use.
         */
        admission: z.boolean(must('true or false')).default(true),
      }),
      /** Power model for joules per inference (modelled, not measured on CPU), watts. */
      energy: block({
        busyWatts: nonNegative().default(defaults.energy.busyWatts),
        idleWatts: nonNegative().default(defaults.energy.idleWatts),
      }),
      limits: block({
        /** Largest request body in bytes. Default 1 MiB. */
        bodyBytes: count().default(1024 * 1024),
        /** Most items waiting per model; more get 503. Default 1024. */
        queueLength: count().default(1024),
        /** Bytes of model files kept loaded at once (an LRU evicts the rest). Default 2 GiB. */
        modelCacheBytes: count().default(2 * 1024 ** 3),
        /** Largest handler upload for deploys. Default 256 KiB. */
        uploadBytes: count().default(256 * 1024),
        /**
         * Longest a handler file may take, in the isolated check every file passes before the runtime imports
         * it, to import and run its example through its schema and `pre`. Default 10 s (a cold import of
         * sharp on a loaded 2-core machine takes about 1 s). Past it the file is refused.
         */
        checkTimeout: duration().default(10_000),
        /** Heap of that check's worker thread, MiB. Default 512. */
        checkHeapMb: count().default(512),
        /**
         * Time limit of each of a call's `pre` and `post`, as a multiple of its function's SLO (at least 1 s),
         * where the handler sets no `hookTimeout`. Default 10. Past it the call is answered 504 `hook_timeout`.
         */
        hookTimeoutFactor: positive().default(10),
        /**
         * Longest a client may take to send a request's headers; past it the connection is answered 408
         * `request_timeout` and closed. Default 10 s. At most `requestTimeout`.
         */
        headersTimeout: duration().default(defaults.http.headersTimeoutMs),
        /**
         * Longest a client may take to send a whole request, headers and body (a body that stalls, or a
         * Content-Length larger than what is sent); past it 408 `request_timeout` and the connection is closed.
         * The time to answer is not counted. Default 30 s.
         */
        requestTimeout: duration().default(defaults.http.requestTimeoutMs),
        /** How long an idle keep-alive connection stays open after its last reply. Default 5 s. */
        keepAliveTimeout: duration().default(defaults.http.keepAliveTimeoutMs),
        /** Open connections at most; past it a new connection is closed as soon as it is accepted. Default 4096. */
        maxConnections: count().default(defaults.http.maxConnections),
      }),
      /** Admin API (deploy, rollback). Off unless a token is set here or in `EDGEBATCH_ADMIN_TOKEN` (empty: off). */
      admin: block({ token: z.string(must('a string')).optional() }),
      /**
       * On SIGTERM/SIGINT the listener keeps taking the connections the kernel had already queued (requests
       * sent before the signal) until none has arrived for 100 ms, for at most this long. Default 5 s.
       */
      shutdownGrace: duration().default(5000),
      /** pino log level. Default `info` (`silent` in tests via `LOG_LEVEL`). */
      logLevel: logLevel.default('info'),
      /**
       * The level of the access log, one line per function call (`EDGEBATCH_ACCESS_LOG`). Default `debug`, so
       * `start` writes none at the default `info` level; `edgebatch dev` uses `info`.
       */
      accessLog: oneOf(['debug', 'info']).default('debug'),
    },
    must('an object'),
  )
  .check((ctx) => {
    // Node refuses a headers timeout longer than the request's.
    const { headersTimeout, requestTimeout } = ctx.value.limits;
    if (headersTimeout > requestTimeout) {
      ctx.issues.push({
        code: 'custom',
        path: ['limits', 'headersTimeout'],
        input: headersTimeout,
        message: `must not be longer than limits.requestTimeout (${requestTimeout} ms)`,
      });
    }
    if (ctx.value.device === 'webgpu' && ctx.value.lanes !== WEBGPU_LANES) {
      ctx.issues.push({
        code: 'custom',
        path: ['lanes'],
        input: ctx.value.lanes,
        message: `must be ${WEBGPU_LANES} with device "webgpu" (sessions in two lanes share one WebGPU device and break each other's runs)`,
      });
    }
  });

/** The configuration a user writes; every field is optional except `models`, and documented with its default. */
export type UserConfig = z.input<typeof configSchema>;

/** The environment variables that override an option, by the option's path. */
const fromEnv = {
  host: 'HOST',
  port: 'PORT',
  logLevel: 'LOG_LEVEL',
  accessLog: 'EDGEBATCH_ACCESS_LOG',
  'admin.token': 'EDGEBATCH_ADMIN_TOKEN',
} as const;

/** The user's config with the environment's overrides in place (they win, as hosted runtimes expect). */
function withEnv(user: UserConfig, env: NodeJS.ProcessEnv): { input: unknown; envKeys: Set<string> } {
  if (!isPlainObject(user)) return { input: user, envKeys: new Set() };
  const input: Record<string, unknown> = { ...user };
  const envKeys = new Set<string>();
  for (const [key, name] of Object.entries(fromEnv)) {
    const value = env[name];
    if (value === undefined) continue;
    envKeys.add(key);
    if (key === 'admin.token') input.admin = { ...(isPlainObject(user.admin) ? user.admin : {}), token: value };
    else if (key === 'port') input.port = /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    else input[key] = value;
  }
  return { input, envKeys };
}

/** Reshapes the schema's output into the names the runtime reads, with the defaults that depend on other options. */
function shape(c: z.output<typeof configSchema>, root: string, env: NodeJS.ProcessEnv) {
  const { margin, ...scheduler } = c.scheduler;
  const { checkTimeout, headersTimeout, requestTimeout, keepAliveTimeout, ...limits } = c.limits;
  const { admin, shutdownGrace, ...rest } = c;
  return {
    ...rest,
    root,
    functionsDir: path.resolve(root, c.functionsDir),
    dataDir: path.resolve(root, c.dataDir),
    threadsPerLane: c.threadsPerLane ?? Math.max(1, Math.floor((os.availableParallelism() - 1) / c.lanes)),
    models: Object.fromEntries(
      Object.entries(c.models).map(([name, { fixedDelay, v2Slo, ...m }]) => [
        name,
        {
          ...m,
          name,
          file: path.resolve(root, m.file),
          /** Where it runs: its own `device`, else the top-level one. */
          device: m.device ?? c.device,
          policy: m.policy ?? scheduler.policy,
          fixedDelay: { maxQueueDelayMs: fixedDelay.maxQueueDelay, preferredBatchSize: fixedDelay.preferredBatchSize ?? m.maxBatch },
          /** Undefined: the runtime's default (see {@link ModelConfig.v2Slo}). */
          v2SloMs: v2Slo,
        },
      ]),
    ),
    scheduler: { ...scheduler, marginMs: margin },
    limits: {
      ...limits,
      checkTimeoutMs: checkTimeout,
      // Whole milliseconds: Node's server timeouts take only integers.
      headersTimeoutMs: Math.ceil(headersTimeout),
      requestTimeoutMs: Math.ceil(requestTimeout),
      keepAliveTimeoutMs: Math.ceil(keepAliveTimeout),
    },
    adminToken: admin.token,
    shutdownGraceMs: shutdownGrace,
    /** Readable log lines (pino-pretty) instead of JSON: `EDGEBATCH_LOG_PRETTY=1`, which `dev` sets on a terminal. */
    logPretty: env.EDGEBATCH_LOG_PRETTY === '1',
  };
}

type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Every option present, units in the names, frozen; built once by {@link resolveConfig}. */
export type ResolvedConfig = DeepReadonly<ReturnType<typeof shape>>;
export type ResolvedModelConfig = ResolvedConfig['models'][string];

/**
 * Typed identity helper for hono.config.ts: gives completion and type errors, does nothing at run time.
 *
 * @example
 * export default defineConfig({ models: { mlp: { file: 'models/mlp.onnx', maxBatch: 64 } } })
 */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

/** Lanes of the device of kind `device`: `lanes` for cpu and cuda, {@link WEBGPU_LANES} for webgpu. */
export function lanesOn(config: Pick<ResolvedConfig, 'lanes'>, device: DeviceKind): number {
  return device === 'webgpu' ? WEBGPU_LANES : config.lanes;
}

/**
 * Validates every option and applies every default once, so the rest of the runtime reads plain numbers.
 * Paths are resolved against `root` (the folder of hono.config.ts); `HOST`, `PORT`, `LOG_LEVEL`,
 * `EDGEBATCH_ACCESS_LOG` and `EDGEBATCH_ADMIN_TOKEN` override their options. The result is deeply frozen:
 * what may change at run time has an API of its own on the runtime.
 *
 * @param source the config file, named in messages.
 * @throws TypeError naming each bad option by its path (`models.mlp.maxBatch`), what was expected and what
 *   was given, and the file.
 */
export function resolveConfig(user: UserConfig, root: string, env: NodeJS.ProcessEnv = process.env, source?: string): ResolvedConfig {
  const { input, envKeys } = withEnv(user, env);
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw configError(parsed.error.issues, envKeys, source);
  return deepFreeze(shape(parsed.data, root, env));
}

/** One TypeError listing every problem, each by its path, e.g. `hono.config.ts: models.mlp.maxBacth is not an option`. */
function configError(issues: readonly z.core.$ZodIssue[], envKeys: ReadonlySet<string>, source: string | undefined): TypeError {
  const lines = issues.flatMap((issue) => {
    const where = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${where ? `${where}.` : ''}${key} is not an option`);
    const name = where || 'config';
    const env = envKeys.has(where) ? ` (from ${fromEnv[where as keyof typeof fromEnv]})` : '';
    return [`${name} ${issue.message}, got ${JSON.stringify(issue.input)}${env}`];
  });
  return new TypeError(`${source ? `${source}: ` : ''}${lines.join('; ')}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * A config file's options with a program's overrides over them (loadConfig's `overrides`). Blocks merge key
 * by key, so an override of `scheduler.admission` keeps the file's policy and margin; `models` is the set of
 * models to serve, so an override of it replaces the file's.
 */
export function mergeConfig(base: UserConfig, overrides: Partial<UserConfig>): UserConfig {
  return mergeBlocks(base, overrides, (key) => key === 'models') as UserConfig;
}

function mergeBlocks(base: object, over: object, replaced: (key: string) => boolean = () => false): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = !replaced(key) && isPlainObject(value) && isPlainObject(out[key]) ? mergeBlocks(out[key], value) : value;
  }
  return out;
}
