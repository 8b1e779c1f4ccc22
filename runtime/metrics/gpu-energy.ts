/**
 * Joules per inference from the GPU's own counter, on an NVIDIA host: one long-running
 * `nvidia-smi --query-gpu=power.draw,total_energy_consumption --format=csv,noheader,nounits -lms <interval>`
 * child whose stdout is parsed line by line as it arrives (sampling happens in that process, off the event
 * loop; no process per sample). Each model's batches are booked here with their device time and size, and
 * a model is charged the GPU's energy over the recent window in proportion to its share of the device time.
 *
 * When nvidia-smi is missing, exits, or prints what is not a sample, the sampler stops with a one-line
 * reason and the runtime keeps the modelled figure (`energySource: 'model'`).
 *
 * Tested only against a stand-in nvidia-smi script (no GPU was available to this work): untested against a
 * real NVIDIA driver.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One line of nvidia-smi's output: power.draw in watts, total_energy_consumption in joules (it prints mJ). */
export interface GpuSample {
  watts: number | null;
  energyJ: number | null;
}

/** A field nvidia-smi prints where a GPU or driver has no such reading. */
const notAvailable = /^\[(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost)\]$/i;

/**
 * Parses one line of `--format=csv,noheader,nounits` output for the two fields queried, e.g. `72.34, 1234567`
 * or `[N/A], [Not Supported]`. Returns undefined for a line that is not such a sample (garbage, an error
 * message, a header); a field without a reading is null.
 */
export function parseSmiLine(line: string): GpuSample | undefined {
  const fields = line.split(',').map((f) => f.trim());
  if (fields.length !== 2) return undefined;
  const values: (number | null)[] = [];
  for (const f of fields) {
    if (notAvailable.test(f)) values.push(null);
    else if (/^\d+(\.\d+)?$/.test(f)) values.push(Number(f));
    else return undefined;
  }
  return { watts: values[0], energyJ: values[1] === null ? null : values[1] / 1000 };
}

/**
 * Energy in joules between the first and the last of `samples` (times in ms): the energy counter's rise
 * where both ends have it, else power.draw integrated by the trapezoid rule; null when neither is there.
 */
export function energyOver(samples: readonly (GpuSample & { atMs: number })[]): number | null {
  if (samples.length < 2) return null;
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first.energyJ !== null && last.energyJ !== null && last.energyJ >= first.energyJ) return last.energyJ - first.energyJ;
  let joules = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1].watts;
    const b = samples[i].watts;
    if (a === null || b === null) return null;
    joules += ((a + b) / 2) * ((samples[i].atMs - samples[i - 1].atMs) / 1000);
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
  #samples: (GpuSample & { atMs: number })[] = [];
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
    const args = [
      '--query-gpu=power.draw,total_energy_consumption',
      '--format=csv,noheader,nounits',
      `--id=${gpu}`,
      '-lms',
      String(intervalMs),
    ];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.#child = child;
    child.on('error', (err) => this.#stop(`${command} could not be run (${(err as NodeJS.ErrnoException).code ?? err.message})`));
    child.on('exit', (code, signal) => this.#stop(`${command} exited (${signal ?? `code ${code}`})`));
    child.unref();
    (child.stdout as NodeJS.ReadableStream & { unref?(): void }).unref?.();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (this.#stopped) return;
      const s = parseSmiLine(line);
      if (!s) return this.#stop(`${command} printed a line that is not a power/energy sample: ${JSON.stringify(line.slice(0, 80))}`);
      if (s.watts === null && s.energyJ === null)
        return this.#stop(`${command} reports neither power.draw nor total_energy_consumption on this GPU`);
      const atMs = this.#opts.now();
      this.#samples.push({ ...s, atMs });
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
