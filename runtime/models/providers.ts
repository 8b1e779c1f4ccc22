/**
 * Device selection: which onnxruntime execution provider a session is created with, and what a device
 * that cannot start says about itself, in one line.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { DeviceKind } from '../config.ts';

/** Session options for a lane of `device` with `threads` intra-op threads. */
export function sessionOptions(device: DeviceKind, threads: number): InferenceSession.SessionOptions {
  return {
    // On webgpu, operators the provider lacks fall back to onnxruntime's CPU provider, which uses these threads.
    executionProviders: [device],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Run failures come back to the batcher, which logs them with an error id; native stderr noise adds nothing.
    logSeverityLevel: 4,
  };
}

/** The levels of onnxruntime's own logger (`ort.env.logLevel`). */
export type NativeLogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

/**
 * onnxruntime's own logger, from the runtime's (pino) level. It writes to stderr natively, in its own format
 * with ANSI colours (a CUDA provider that cannot load prints red lines), outside the JSON logs; what it
 * reports at error level also comes back as the exception the runtime logs and answers with. So it is
 * quiet (fatal only) unless the runtime logs at `debug` (its warnings) or `trace` (everything), for
 * diagnosing onnxruntime itself. The session's own `logSeverityLevel` does not cover the environment's
 * logger, which is where provider loading reports.
 */
export function nativeLogLevel(runtimeLevel: string): NativeLogLevel {
  if (runtimeLevel === 'trace') return 'verbose';
  if (runtimeLevel === 'debug') return 'warning';
  return 'fatal';
}

/**
 * Whether the Vulkan loader (libvulkan.so.1) can be opened. Dawn, under onnxruntime's WebGPU provider, finds
 * GPUs through it on Linux; without it the provider reports only "no adapters", which hides the cause.
 * `process.dlopen` of a library that is not a Node addon fails with "did not self-register" once the library
 * has loaded, and with "cannot open shared object file" when it is missing.
 */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    process.dlopen({ exports: {} }, 'libvulkan.so.1');
    return false;
  } catch (err) {
    return /cannot open shared object file/.test((err as Error).message);
  }
}

/**
 * The reason a session could not be created, in one line: for a device that cannot start, what is missing
 * and what to do; otherwise the model file's own error.
 */
export function sessionFailure(device: DeviceKind, model: { name: string; file: string }, err: unknown): Error {
  const msg = (err instanceof Error ? err.message : String(err)).trim();
  if (device === 'cuda') {
    return new Error(`device "cuda" could not be used for model "${model.name}": onnxruntime-node's CUDA execution provider is not installed or no GPU is visible (${msg}). Use device: "cpu", or install onnxruntime-node with its CUDA files on a GPU host.`);
  }
  if (device === 'webgpu' && vulkanLoaderMissing()) {
    return new Error(`device "webgpu" could not be used for model "${model.name}": no Vulkan loader (libvulkan.so.1 not found). Install libvulkan1 and a Vulkan driver (the NVIDIA driver's, or Mesa's lavapipe), or use device: "cpu".`);
  }
  if (device === 'webgpu' && /adapter/i.test(msg)) {
    // onnxruntime prefixes its source location and Dawn adds a trailing newline: keep the sentence itself.
    const said = msg.slice(msg.indexOf('Failed to get')).split('\n')[0];
    return new Error(`device "webgpu" could not be used for model "${model.name}": no WebGPU adapter (${said}). Vulkan found no usable device: check the GPU driver's Vulkan ICD (vulkaninfo), or install Mesa's lavapipe, or use device: "cpu".`);
  }
  return new Error(`model "${model.name}" could not be loaded from ${model.file}: ${msg.split('\n')[0]}`);
}
