/**
 * edgebatch's public API. Handler files import `defineFunction`; hono.config.ts imports `defineConfig`;
 * programs that embed the runtime use `loadConfig` and `serve`.
 */
export { defineFunction } from './functions/define.ts';
export type { FunctionDefinition, HookInput, ItemInput, ItemOutput, RawBody, RawOption } from './functions/define.ts';
export { defineConfig, lanesOn, resolveConfig, WEBGPU_LANES } from './config.ts';
export type { DeviceKind, ModelConfig, PolicyName, ResolvedConfig, UserConfig } from './config.ts';
export type { Duration } from './duration.ts';
export { parseDuration } from './duration.ts';
export type { ItemTensor, TensorData } from './models/tensor.ts';
export { loadConfig, serve } from './serve.ts';
export type { Serving } from './serve.ts';
export { Runtime } from './runtime.ts';
export type { InvokeOptions, InvokeResult } from './runtime.ts';
export { createApp } from './server/app.ts';
export {
  BadInputError,
  CancelledError,
  EdgebatchError,
  HookTimeoutError,
  ModelUnavailableError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  RunFailedError,
  UnsupportedMediaTypeError,
} from './errors.ts';
