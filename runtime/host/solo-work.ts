/** A call's host work under way, as {@link SoloWork.start} returns it. */
export interface WorkSpan {
  readonly startMs: number;
  /** Whether nothing else was under way when it started. */
  readonly aloneAtStart: boolean;
  /** How many spans had started, this one included, when it started. */
  readonly seq: number;
}

/**
 * Times calls' own host work (their `pre` and the checks of the item it makes) and says whether
 * each ran alone, with no other call's work under way or begun meanwhile. Only then is the time measured
 * the call's own cost, what it would take on an idle runtime: with others beside it, it also holds their
 * share of the event loop and of libuv's threads (where sharp decodes), so a busy runtime is never taken
 * for an expensive input. Two counters, no timer, no allocation beyond the span.
 */
export class SoloWork {
  #underWay = 0;
  #started = 0;

  start(): WorkSpan {
    const span = { startMs: performance.now(), aloneAtStart: this.#underWay === 0, seq: ++this.#started };
    this.#underWay++;
    return span;
  }

  /** Ends a span: its duration, ms, when it ran alone throughout, else undefined. Call once per span. */
  stop(span: WorkSpan): number | undefined {
    this.#underWay--;
    return span.aloneAtStart && this.#started === span.seq ? performance.now() - span.startMs : undefined;
  }
}
