/**
 * Joules per inference from the GPU's own power reading, on an NVIDIA host: one long-running
 * `nvidia-smi --query-gpu=power.draw --format=csv,noheader,nounits -lms <interval>` child whose stdout is
 * parsed line by line as it arrives (sampling happens in that process, off the event loop; no process per
 * sample). The samples are integrated over time (trapezoids) into joules. Each model's batches are booked
 * here with their device time and size, and a model is charged the GPU's energy over the recent window in
 * proportion to its share of the device time.
 *
 * Only `power.draw` is queried. The board's energy counter is not a `--query-gpu` field: nvidia-smi 580.159
 * on an H100 answers `Field "total_energy_consumption" is not a valid field to query.` and exits, so a query
 * naming it gets no sample at all. On Ampere and newer, power.draw is the average over the last second,
 * which sampling at the default 500 ms interval integrates without gaps.
 *
 * When nvidia-smi is missing, exits, or prints what is not a sample, the sampler stops with a one-line
 * reason and the runtime keeps the modelled figure (`energySource: 'model'`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The one field queried. */
const SMI_QUERY = 'power.draw';

/** A field nvidia-smi prints where a GPU or driver has no such reading. */
const notAvailable = /^\[(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost)\]$/i;

/**
 * Parses one line of `--query-gpu=power.draw --format=csv,noheader,nounits` output, e.g. `72.34`, into watts;
 * null for a GPU without the reading (`[N/A]`). Returns undefined for a line that is not such a sample
 * (garbage, an error message, a header).
 */
export function parseSmiLine(line: string): number | null | undefined {
  const field = line.trim();
  if (notAvailable.test(field)) return null;
  return /^\d+(\.\d+)?$/.test(field) ? Number(field) : undefined;
}

/** A power reading at a moment: watts at `atMs`. */
export interface PowerSample {
  atMs: number;
  watts: number;
}

/** Energy in joules between the first and the last of `samples` (times in ms), by the trapezoid rule; null under two samples. */
export function energyOver(samples: readonly PowerSample[]): number | null {
  if (samples.length < 2) return null;
  let joules = 0;
  for (let i = 1; i < samples.length; i++) {
    joules += ((samples[i - 1].watts + samples[i].watts) / 2) * ((samples[i].atMs - samples[i - 1].atMs) / 1000);
  }
  return joules;
}

export interface GpuEnergyOptions {
  /** The command, `nvidia-smi` unless a test says otherwise (found on PATH). */
  command?: string;
  /** Which GPU (nvidia-smi's --id): one line per sample then. Default 0. */
  gpu?: number;
  /** Sampling interval, ms. */
  intervalMs?: number;
  /** How far back a figure looks, ms. */
  windowMs?: number;
  /** The one-line reason when the sampler gives up (the runtime logs it). */
  onStop?(reason: string): void;
  now?(): number;
}

interface Booked {
  atMs: number;
  model: string;
  items: number;
  busyMs: number;
}

/** The GPU energy sampler and the batch ledger it divides energy by. */
export class GpuEnergy {
  readonly #opts: Required<Omit<GpuEnergyOptions, 'onStop'>> & Pick<GpuEnergyOptions, 'onStop'>;
  #child: ChildProcess | undefined;
  #samples: PowerSample[] = [];
  #batches: Booked[] = [];
  #stopped: string | undefined;

  constructor(options: GpuEnergyOptions = {}) {
    this.#opts = { command: 'nvidia-smi', gpu: 0, intervalMs: 500, windowMs: 10_000, now: () => performance.now(), ...options };
  }

  /** Why the sampler is not running, or undefined while it is (or has not started). */
  get stopped(): string | undefined {
    return this.#stopped;
  }

  /** Starts the one nvidia-smi child; a failure to start is reported through `onStop`, never thrown. */
  start(): void {
    const { command, gpu, intervalMs } = this.#opts;
    const args = [`--query-gpu=${SMI_QUERY}`, '--format=csv,noheader,nounits', `--id=${gpu}`, '-lms', String(intervalMs)];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.#child = child;
    child.on('error', (err) => this.#stop(`${command} could not be run (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    child.on('exit', (code, signal) => this.#stop(`${command} exited (${signal ?? `code ${code}`})`));
    child.unref();
    (child.stdout as NodeJS.ReadableStream & { unref?(): void }).unref?.();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (this.#stopped) return;
      const watts = parseSmiLine(line);
      if (watts === undefined)
        return this.#stop(`${command} printed a line that is not a power sample: ${JSON.stringify(line.slice(0, 80))}`);
      if (watts === null) return this.#stop(`${command} reports no power.draw on this GPU`);
      const atMs = this.#opts.now();
      this.#samples.push({ atMs, watts });
      this.#trim(atMs);
    });
  }

  /** Stops the child; figures are null from then on. */
  close(): void {
    this.#stop('closed');
  }

  #stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = reason;
    this.#samples = [];
    if (this.#child && this.#child.exitCode === null) this.#child.kill();
    if (reason !== 'closed') this.#opts.onStop?.(reason);
  }

  #trim(nowMs: number): void {
    const from = nowMs - this.#opts.windowMs;
    while (this.#samples.length > 2 && this.#samples[1].atMs <= from) this.#samples.shift();
    while (this.#batches.length && this.#batches[0].atMs < from) this.#batches.shift();
  }

  /** Books a batch that ran on the GPU: `items` calls, `busyMs` of device time. */
  book(model: string, items: number, busyMs: number): void {
    if (this.#stopped) return;
    const atMs = this.#opts.now();
    this.#batches.push({ atMs, model, items, busyMs });
    this.#trim(atMs);
  }

  /**
   * Joules per inference of `model` over the window: the GPU's energy there, times the model's share of the
   * device time booked, over its calls. Null while there is no reading or no call of the model in the window.
   */
  joulesPerInference(model: string): number | null {
    if (this.#stopped) return null;
    const joules = energyOver(this.#samples);
    if (joules === null) return null;
    const from = this.#samples[0].atMs;
    let busyAll = 0;
    let busy = 0;
    let items = 0;
    for (const b of this.#batches) {
      if (b.atMs < from) continue;
      busyAll += b.busyMs;
      if (b.model !== model) continue;
      busy += b.busyMs;
      items += b.items;
    }
    return items > 0 && busyAll > 0 ? (joules * (busy / busyAll)) / items : null;
  }
}
