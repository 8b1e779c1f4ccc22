import os from 'node:os';
import path from 'node:path';
import { defaults } from './defaults.ts';
import { parseDuration, type Duration } from './duration.ts';

/** How a model's queue decides when to dispatch and how much to take. See scheduler/policies/. */
export type PolicyName = 'slo' | 'greedy' | 'fixed-delay' | 'none';

/**
 * Where a model runs. `cpu`: onnxruntime's CPU provider (bundled). `webgpu`: onnxruntime-node's bundled WebGPU
 * provider, on Dawn over Vulkan (an NVIDIA GPU through its driver's Vulkan ICD, or Mesa's software lavapipe).
 * `cuda`: needs onnxruntime-node's CUDA provider files, which are not bundled.
 */
export type DeviceKind = 'cpu' | 'cuda' | 'webgpu';

/**
 * Lanes of a webgpu device, and the only number allowed. onnxruntime-node keeps one Dawn device per process
 * (its options are first-device-wins), so sessions in two lanes share one WebGPU queue. Measured on lavapipe
 * with models/mlp-large.onnx: two lanes running at once did not overlap, they broke it: "WebGPU validation
 * failed. Command encoding already finished" or a segfault, which ends the whole process. One lane runs
 * batches one after another, as the formula models.
 */
export const WEBGPU_LANES = 1;

/** One model as written in hono.config.ts. */
export interface ModelConfig {
  /** Path to the .onnx file, relative to the config file or absolute. */
  file: string;
  /** Where this model runs. Default: the top-level `device`. */
  device?: DeviceKind;
  /** Largest batch the model may run. Default 32. */
  maxBatch?: number;
  /**
   * Bytes one batch's input and output tensors may occupy on the device. The batch cap becomes
   * min(maxBatch, floor(maxBatchBytes / bytes per item)), at least 1, with the bytes per item read from the
   * model's shapes when it loads (its non-batch dimensions must then be fixed). Activations inside the model
   * are not counted: leave headroom for them. Default: no memory cap.
   */
  maxBatchBytes?: number;
  /** The input stacked along the batch axis. Default: the model's first input. */
  input?: string;
  /**
   * How items whose shapes differ in a dynamic dimension share a batch. `pad` (default when `padValue`
   * is set) pads each to the largest in the batch with `padValue`; `bucket` only batches items of equal shape.
   */
  shapes?: 'pad' | 'bucket';
  /** Value used to pad dynamic dimensions. Default 0. */
  padValue?: number;
  /** Scheduling policy for this model. Default: `scheduler.policy`. */
  policy?: PolicyName;
  /** For `fixed-delay`: Triton-style maximum queue delay and preferred batch size. */
  fixedDelay?: { maxQueueDelay?: Duration; preferredBatchSize?: number };
  /**
   * Deadline of a v2 (Open Inference Protocol) call that sends no `x-slo-ms`. Default: the loosest SLO of
   * the functions on the model (1 s without any), so tensor clients never tighten the model's objective.
   */
  v2Slo?: Duration;
}

/** The configuration a user writes; every field is optional and documented with its default. */
export interface UserConfig {
  /** Interface to listen on. Default `127.0.0.1`; the `HOST` environment variable overrides it. */
  host?: string;
  /** Port to listen on. Default 8787; the `PORT` environment variable overrides it (0 picks a free port). */
  port?: number;
  /** Folder of handler files, relative to the config file. Default `functions`. */
  functionsDir?: string;
  /** Folder where deployed versions are kept. Default `.edgebatch`. */
  dataDir?: string;
  /** Where models run unless a model says otherwise (see {@link DeviceKind}). Default `cpu`. */
  device?: DeviceKind;
  /**
   * Worker threads that run batches (device lanes) on `cpu` or `cuda`. Default 1: one batch at a time, as the
   * formula models. A `webgpu` device always has {@link WEBGPU_LANES}; more is refused.
   */
  lanes?: number;
  /**
   * onnxruntime intra-op threads per lane. Default: the machine's cores minus one (kept for the event loop,
   * which runs pre, post and HTTP), divided by lanes, at least 1. More threads than free cores make every
   * parallel section wait for a descheduled thread: on 2 cores, 2 threads ran a 1 ms MLP batch in 3-20 ms.
   */
  threadsPerLane?: number;
  models: Record<string, ModelConfig>;
  scheduler?: {
    /** Default policy of every model. Default `slo`. */
    policy?: PolicyName;
    /** Safety margin kept before a deadline when deciding to hold. Default 2 ms. */
    margin?: Duration;
    /** The mean-latency objective of a model is this fraction of the tightest SLO using it. Default 0.5. */
    meanObjectiveFraction?: number;
    /** Shed when the predicted mean latency exceeds the objective by this factor. Default 2. */
    overloadFactor?: number;
    /**
     * At the door, before a body is read, shed while the event loop's lag is over this fraction of the
     * call's SLO (at least 2 ms). Default 0.1. The loop, not the device, saturates first under overload; a
     * standing backlog in front of it makes every call late, so it is refused where refusing is cheap.
     */
    hostLagFraction?: number;
    /** Sliding window of batches the cost fit uses. Default 200. */
    fitWindow?: number;
    /**
     * Admission control: answer 503 at once to a call that cannot meet its SLO. Default true; false queues
     * every call (answers may then be late), which functional tests and policy comparisons use.
     */
    admission?: boolean;
  };
  /** Power model for joules per inference (modelled, not measured on CPU). */
  energy?: { busyWatts?: number; idleWatts?: number };
  limits?: {
    /** Largest request body in bytes. Default 1 MiB. */
    bodyBytes?: number;
    /** Most items waiting per model; more get 503. Default 1024. */
    queueLength?: number;
    /** Bytes of model files kept loaded at once (an LRU evicts the rest). Default 2 GiB. */
    modelCacheBytes?: number;
    /** Largest handler upload for deploys. Default 256 KiB. */
    uploadBytes?: number;
    /**
     * Longest a handler file may take, in the isolated check every file passes before the runtime imports
     * it, to import and run its example through its schema and `pre`. Default 10 s (a cold import of
     * sharp on a loaded 2-core machine takes about 1 s). Past it the file is refused.
     */
    checkTimeout?: Duration;
    /** Heap of that check's worker thread, MiB. Default 512. */
    checkHeapMb?: number;
    /**
     * Time limit of each of a call's `pre` and `post`, as a multiple of its function's SLO (at least 1 s),
     * where the handler sets no `hookTimeout`. Default 10. Past it the call is answered 504 `hook_timeout`.
     */
    hookTimeoutFactor?: number;
    /**
     * Longest a client may take to send a request's headers; past it the connection is answered 408
     * `request_timeout` and closed. Default 10 s. At most `requestTimeout`.
     */
    headersTimeout?: Duration;
    /**
     * Longest a client may take to send a whole request, headers and body (a body that stalls, or a
     * Content-Length larger than what is sent); past it 408 `request_timeout` and the connection is closed.
     * The time to answer is not counted. Default 30 s.
     */
    requestTimeout?: Duration;
    /** How long an idle keep-alive connection stays open after its last reply. Default 5 s. */
    keepAliveTimeout?: Duration;
    /** Open connections at most; past it a new connection is closed as soon as it is accepted. Default 4096. */
    maxConnections?: number;
  };
  /** Admin API (deploy, rollback). Off unless a token is set here or in `EDGEBATCH_ADMIN_TOKEN`. */
  admin?: { token?: string };
  /**
   * On SIGTERM/SIGINT the listener keeps taking the connections the kernel had already queued (requests
   * sent before the signal) until none has arrived for 100 ms, for at most this long. Default 5 s.
   */
  shutdownGrace?: Duration;
  /** pino log level. Default `info` (`silent` in tests via `LOG_LEVEL`). */
  logLevel?: string;
  /**
   * The level of the access log, one line per function call (`EDGEBATCH_ACCESS_LOG`). Default `debug`, so
   * `start` writes none at the default `info` level; `edgebatch dev` uses `info`.
   */
  accessLog?: 'debug' | 'info';
}

export interface ResolvedModelConfig {
  name: string;
  file: string;
  device: DeviceKind;
  /** The configured cap; a memory cap may lower it when the model loads. */
  maxBatch: number;
  /** Undefined: no memory cap. */
  maxBatchBytes: number | undefined;
  input: string | undefined;
  shapes: 'pad' | 'bucket';
  padValue: number;
  policy: PolicyName;
  fixedDelay: { maxQueueDelayMs: number; preferredBatchSize: number };
  /** Undefined: the runtime's default (see {@link ModelConfig.v2Slo}). */
  v2SloMs: number | undefined;
}

/** Every field present, units in the names; built once by {@link resolveConfig}. */
export interface ResolvedConfig {
  root: string;
  host: string;
  port: number;
  functionsDir: string;
  dataDir: string;
  /** The top-level default; each model's own is {@link ResolvedModelConfig.device}. */
  device: DeviceKind;
  /** Lanes of a cpu or cuda device; see {@link lanesOn}. */
  lanes: number;
  threadsPerLane: number;
  models: Record<string, ResolvedModelConfig>;
  scheduler: { policy: PolicyName; marginMs: number; meanObjectiveFraction: number; overloadFactor: number; hostLagFraction: number; fitWindow: number; admission: boolean };
  energy: { busyWatts: number; idleWatts: number };
  limits: {
    bodyBytes: number;
    queueLength: number;
    modelCacheBytes: number;
    uploadBytes: number;
    checkTimeoutMs: number;
    checkHeapMb: number;
    hookTimeoutFactor: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
  };
  adminToken: string | undefined;
  shutdownGraceMs: number;
  logLevel: string;
  accessLog: 'debug' | 'info';
  /** Readable log lines (pino-pretty) instead of JSON: `EDGEBATCH_LOG_PRETTY=1`, which `dev` sets on a terminal. */
  logPretty: boolean;
}

/**
 * Typed identity helper for hono.config.ts: gives completion and type errors, does nothing at run time.
 *
 * @example
 * export default defineConfig({ models: { mlp: { file: 'models/mlp.onnx', maxBatch: 64 } } })
 */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

const policies: readonly PolicyName[] = ['slo', 'greedy', 'fixed-delay', 'none'];
const devices: readonly DeviceKind[] = ['cpu', 'cuda', 'webgpu'];

/** Lanes of the device of kind `device`: `lanes` for cpu and cuda, {@link WEBGPU_LANES} for webgpu. */
export function lanesOn(config: Pick<ResolvedConfig, 'lanes'>, device: DeviceKind): number {
  return device === 'webgpu' ? WEBGPU_LANES : config.lanes;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

function nonNegative(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: unknown, name: string, fallback: number): number {
  const n = nonNegative(value, name, fallback);
  if (n === 0) throw new TypeError(`${name} must be a number > 0, got 0`);
  return n;
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function portFrom(env: string | undefined, configured: unknown): number {
  const raw = env ?? configured;
  if (raw === undefined) return defaults.port;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`port must be an integer 0-65535, got ${JSON.stringify(raw)}`);
  return port;
}

/**
 * Applies every default once and validates every option, so the rest of the runtime reads plain numbers.
 * Paths are resolved against `root` (the folder of hono.config.ts).
 *
 * @throws TypeError naming the option, what was expected and what was given.
 */
export function resolveConfig(user: UserConfig, root: string, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  if (!user || typeof user !== 'object') throw new TypeError(`config must be an object, got ${JSON.stringify(user)}`);
  if (!user.models || typeof user.models !== 'object') throw new TypeError('config.models must map model names to { file }');
  const lanes = positiveInt(user.lanes, 'lanes', 1);
  const device = oneOf(user.device, 'device', devices, 'cpu');
  if (device === 'webgpu' && lanes !== WEBGPU_LANES) {
    throw new TypeError(`lanes must be ${WEBGPU_LANES} with device "webgpu" (sessions in two lanes share one WebGPU device and break each other's runs), got ${lanes}`);
  }
  const policy = oneOf(user.scheduler?.policy, 'scheduler.policy', policies, 'slo');
  const models: Record<string, ResolvedModelConfig> = {};
  for (const [name, m] of Object.entries(user.models)) {
    const where = `models.${name}`;
    if (!m || typeof m.file !== 'string' || m.file.length === 0) throw new TypeError(`${where}.file must be a path to an .onnx file, got ${JSON.stringify(m?.file)}`);
    const maxBatch = positiveInt(m.maxBatch, `${where}.maxBatch`, 32);
    models[name] = {
      name,
      file: path.resolve(root, m.file),
      device: oneOf(m.device, `${where}.device`, devices, device),
      maxBatch,
      maxBatchBytes: m.maxBatchBytes === undefined ? undefined : positiveInt(m.maxBatchBytes, `${where}.maxBatchBytes`, 0),
      input: m.input,
      shapes: oneOf(m.shapes, `${where}.shapes`, ['pad', 'bucket'] as const, 'pad'),
      padValue: nonNegative(m.padValue, `${where}.padValue`, 0),
      policy: oneOf(m.policy, `${where}.policy`, policies, policy),
      fixedDelay: {
        maxQueueDelayMs: m.fixedDelay?.maxQueueDelay === undefined ? 5 : parseDuration(m.fixedDelay.maxQueueDelay, `${where}.fixedDelay.maxQueueDelay`),
        preferredBatchSize: positiveInt(m.fixedDelay?.preferredBatchSize, `${where}.fixedDelay.preferredBatchSize`, maxBatch),
      },
      v2SloMs: m.v2Slo === undefined ? undefined : parseDuration(m.v2Slo, `${where}.v2Slo`),
    };
  }
  const fraction = nonNegative(user.scheduler?.meanObjectiveFraction, 'scheduler.meanObjectiveFraction', defaults.scheduler.meanObjectiveFraction);
  if (fraction <= 0 || fraction > 1) throw new TypeError(`scheduler.meanObjectiveFraction must be in (0, 1], got ${fraction}`);
  return {
    root,
    host: env.HOST ?? user.host ?? defaults.host,
    port: portFrom(env.PORT, user.port),
    functionsDir: path.resolve(root, user.functionsDir ?? 'functions'),
    dataDir: path.resolve(root, user.dataDir ?? '.edgebatch'),
    device,
    lanes,
    threadsPerLane: positiveInt(user.threadsPerLane, 'threadsPerLane', Math.max(1, Math.floor((os.availableParallelism() - 1) / lanes))),
    models,
    scheduler: {
      policy,
      marginMs: user.scheduler?.margin === undefined ? defaults.scheduler.marginMs : parseDuration(user.scheduler.margin, 'scheduler.margin'),
      meanObjectiveFraction: fraction,
      overloadFactor: nonNegative(user.scheduler?.overloadFactor, 'scheduler.overloadFactor', defaults.scheduler.overloadFactor),
      hostLagFraction: nonNegative(user.scheduler?.hostLagFraction, 'scheduler.hostLagFraction', defaults.scheduler.hostLagFraction),
      fitWindow: positiveInt(user.scheduler?.fitWindow, 'scheduler.fitWindow', defaults.scheduler.fitWindow),
      admission: bool(user.scheduler?.admission, 'scheduler.admission', true),
    },
    energy: {
      busyWatts: nonNegative(user.energy?.busyWatts, 'energy.busyWatts', defaults.energy.busyWatts),
      idleWatts: nonNegative(user.energy?.idleWatts, 'energy.idleWatts', defaults.energy.idleWatts),
    },
    limits: {
      bodyBytes: positiveInt(user.limits?.bodyBytes, 'limits.bodyBytes', 1024 * 1024),
      queueLength: positiveInt(user.limits?.queueLength, 'limits.queueLength', 1024),
      modelCacheBytes: positiveInt(user.limits?.modelCacheBytes, 'limits.modelCacheBytes', 2 * 1024 ** 3),
      uploadBytes: positiveInt(user.limits?.uploadBytes, 'limits.uploadBytes', 256 * 1024),
      checkTimeoutMs: user.limits?.checkTimeout === undefined ? 10_000 : parseDuration(user.limits.checkTimeout, 'limits.checkTimeout'),
      checkHeapMb: positiveInt(user.limits?.checkHeapMb, 'limits.checkHeapMb', 512),
      hookTimeoutFactor: positiveNumber(user.limits?.hookTimeoutFactor, 'limits.hookTimeoutFactor', 10),
      ...httpLimits(user.limits),
    },
    adminToken: env.EDGEBATCH_ADMIN_TOKEN ?? user.admin?.token,
    shutdownGraceMs: user.shutdownGrace === undefined ? 5000 : parseDuration(user.shutdownGrace, 'shutdownGrace'),
    logLevel: env.LOG_LEVEL ?? user.logLevel ?? 'info',
    accessLog: accessLevel(env.EDGEBATCH_ACCESS_LOG ?? user.accessLog ?? 'debug'),
    logPretty: env.EDGEBATCH_LOG_PRETTY === '1',
  };
}

/** The HTTP server's timeouts and connection cap; Node refuses a headers timeout longer than the request's. */
function httpLimits(limits: UserConfig['limits']): Pick<ResolvedConfig['limits'], 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'> {
  const d = defaults.http;
  // Whole milliseconds: Node takes only integers.
  const timeout = (value: Duration | undefined, name: string, fallback: number) => (value === undefined ? fallback : Math.ceil(parseDuration(value, name)));
  const headersTimeoutMs = timeout(limits?.headersTimeout, 'limits.headersTimeout', d.headersTimeoutMs);
  const requestTimeoutMs = timeout(limits?.requestTimeout, 'limits.requestTimeout', d.requestTimeoutMs);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new TypeError(`limits.headersTimeout (${headersTimeoutMs} ms) must not be longer than limits.requestTimeout (${requestTimeoutMs} ms)`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: timeout(limits?.keepAliveTimeout, 'limits.keepAliveTimeout', d.keepAliveTimeoutMs),
    maxConnections: positiveInt(limits?.maxConnections, 'limits.maxConnections', d.maxConnections),
  };
}

function accessLevel(level: string): 'debug' | 'info' {
  if (level !== 'debug' && level !== 'info') throw new Error(`accessLog (EDGEBATCH_ACCESS_LOG) must be "debug" or "info", not "${level}"`);
  return level;
}
