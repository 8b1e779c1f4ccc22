/**
 * Every error the runtime answers with carries a stable `code` and the HTTP status it maps to, so the
 * HTTP edge turns any of them into a reply in one place (server/error-reply.ts) and clients can branch on
 * `code` rather than on message text.
 */
export class EdgebatchError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra, JSON-safe facts for the reply body (e.g. the schema issues, the function name). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, status: number, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/** 404: no function (or model, or version) of that name. */
export class NotFoundError extends EdgebatchError {
  constructor(what: string, name: string) {
    super('not_found', 404, `${what} "${name}" does not exist`, { [what]: name });
  }
}

/** 400: the request cannot be turned into a model item (bad JSON, schema, image, shape, a value its element type cannot hold). */
export class BadInputError extends EdgebatchError {
  constructor(
    code: 'bad_json' | 'invalid_input' | 'bad_shape' | 'bad_request' | 'out_of_range',
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, 400, message, details);
  }
}

/** 413: the body is larger than `limits.bodyBytes`. */
export class PayloadTooLargeError extends EdgebatchError {
  constructor(limitBytes: number) {
    super('payload_too_large', 413, `request body is larger than the limit of ${limitBytes} bytes`, { limitBytes });
  }
}

/** 415: a body of a media type the function does not take (neither JSON nor one of its `raw.types`). */
export class UnsupportedMediaTypeError extends EdgebatchError {
  /** `part`: the field name, when the type is that of a multipart form's file part. */
  constructor(fn: string, contentType: string, accepts: readonly string[], part?: string) {
    const what = part === undefined ? 'a body' : `a form part ("${part}")`;
    super('unsupported_media_type', 415, `"${fn}" does not take ${what} of type ${contentType}; it takes ${accepts.join(', ')}`, {
      function: fn,
      contentType,
      accepts,
      ...(part === undefined ? {} : { part }),
    });
  }
}

/** 503 with Retry-After: the request would miss its deadline, or the queue is full; shed early, not answered late. */
export class OverloadedError extends EdgebatchError {
  readonly retryAfterSec: number;
  constructor(message: string, retryAfterSec: number, details?: Record<string, unknown>) {
    // Under overload most calls end here, so a refusal must be cheap: capturing a stack trace was the
    // largest single cost of a 503 in a profile, and a refusal's stack says nothing.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super('overloaded', 503, message, { ...details, retryAfterSec });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.retryAfterSec = retryAfterSec;
  }
}

/**
 * 422: a valid call whose own cost (its `pre`, measured while nothing else ran, plus its batch alone on the
 * device) exceeds its SLO, so it can never be answered in time; unlike a 503 it carries no Retry-After, as
 * no retry helps. 422, not 413: the body may be small (a 60 KB PNG of 4096x4096); what is too large is the
 * work it asks for.
 */
export class TooExpensiveError extends EdgebatchError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('too_expensive', 422, message, details);
  }
}

/** 500: a model run (or a handler's `post`) failed. Only the items of that batch get it; `errorId` ties the reply to the log line. */
export class RunFailedError extends EdgebatchError {
  readonly errorId: string;
  constructor(message: string, errorId: string, cause?: unknown, details?: Record<string, unknown>) {
    super('run_failed', 500, message, { ...details, errorId }, { cause });
    this.errorId = errorId;
  }
}

/**
 * 504: a handler's `pre` or `post` did not finish within its time limit (`hookTimeout`). The call is
 * answered; whatever the hook was waiting on is left to itself.
 */
export class HookTimeoutError extends EdgebatchError {
  constructor(fn: string, hook: 'pre' | 'post', limitMs: number) {
    super('hook_timeout', 504, `"${fn}" ${hook}() did not finish within its time limit of ${limitMs} ms`, { function: fn, hook, limitMs });
  }
}

/** 503: the model a function needs could not be loaded (wrong file, missing execution provider). */
export class ModelUnavailableError extends EdgebatchError {
  constructor(model: string, reason: string) {
    super('model_unavailable', 503, `model "${model}" is not available: ${reason}`, { model });
  }
}

/** The client went away (or the runtime is stopping) before its item was dispatched: it left the queue without costing device time. */
export class CancelledError extends EdgebatchError {
  constructor(reason: string) {
    super('cancelled', 499, reason);
  }
}

/**
 * The connection closed before the request's body was whole: the client left (an aborted upload), or the
 * server closed it past `limits.requestTimeout`. No one is there to read an answer; logged at debug and
 * counted as `cancelled`, never as a server error.
 */
export class ClientGoneError extends CancelledError {
  constructor() {
    super('the connection closed before the request body was whole');
  }
}

/** A handler file or config entry that cannot be used; carries the file it came from. */
export class DefinitionError extends EdgebatchError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_definition', 422, message, details);
  }
}
