/**
 * An absolute file path (or file:// URL) with at least one folder: a path of this machine's disk. Not
 * preceded by a word character, a dot, a colon or a slash, so media types (`image/png`), URLs
 * (`http://host/a/b`) and relative paths stay as they are; a route alone (`/healthz`) has no folder.
 */
const absolutePath = /(?<![\w.~:/-])(?:file:\/\/)?\/(?:[^\s'"`:,;()<>[\]{}|/]+\/)+([^\s'"`:,;()<>[\]{}|/]+)/g;

/**
 * `text` with every absolute file path cut to its last part (`/srv/app/models/mlp.onnx` becomes `mlp.onnx`):
 * what a client may read of a message about files (a model that failed to load, a handler's error) without
 * learning how the host's disk is laid out. The full text goes to the log.
 */
export function withoutPaths(text: string): string {
  // Most messages have no slash at all: skip the regular expressions for them (a 503 under overload is one).
  return text.includes('/') ? text.replace(quotedPath, '$1$2$1').replace(absolutePath, '$1') : text;
}

/**
 * An absolute path in quotes, as Node's file errors write it (`open '/srv/my app/x.onnx'`): inside quotes a
 * path may hold spaces, so it is cut to its last part as a whole, before the unquoted rule above would stop
 * at the first space.
 */
const quotedPath = /(['"`])(?:file:\/\/)?\/[^'"`\n]*\/([^'"`\n/]+)\1/g;
