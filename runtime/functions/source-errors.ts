import { readFileSync } from 'node:fs';
import { formatMessagesSync, type Message, type PartialMessage } from 'esbuild';

/**
 * Compiler errors as a person reads them: `file:line:column: message`, the offending line and a caret.
 * esbuild (through tsx at import, or our own bundler at deploy) is the one compiler here, so its messages
 * are the one format; esbuild's own formatter draws them.
 */
export function formatCompilerMessages(messages: readonly (Message | PartialMessage)[]): string {
  return formatMessagesSync(messages as PartialMessage[], { kind: 'error', color: false })
    .join('')
    .trimEnd();
}

/** `<file>:<line>:<column>: ERROR: <text>`, one per error, as tsx puts esbuild's messages into `Error.message`. */
const located = /^(.+?):(\d+):(\d+): ERROR: (.*)$/;

/**
 * Why importing a handler file failed. tsx flattens esbuild's errors into the message
 * ("Transform failed with 1 error:\n<file>:1:42: ERROR: ..."), so the locations are parsed back and the
 * offending line read from the file; any other error keeps its own message.
 */
export function describeImportError(err: unknown): string {
  const e = err as Error & { errors?: Message[] };
  if (Array.isArray(e.errors) && e.errors.length > 0) return formatCompilerMessages(e.errors);
  const messages: PartialMessage[] = [];
  for (const line of String(e?.message ?? err).split('\n')) {
    const m = located.exec(line);
    if (!m) continue;
    const [, file, lineNo, column, text] = m;
    messages.push({ text, location: { file, line: Number(lineNo), column: Number(column), lineText: sourceLine(file, Number(lineNo)) } });
  }
  if (messages.length > 0) return formatCompilerMessages(messages);
  // A runtime error while evaluating the module (a throw at top level, a missing package): its first line
  // and where it happened.
  const where = e?.stack
    ?.split('\n')
    .find((l) => /^\s+at /.test(l))
    ?.trim();
  return `${String(e?.message ?? err).split('\n')[0]}${where ? ` (${where})` : ''}`;
}

function sourceLine(file: string, line: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n')[line - 1] ?? '';
  } catch {
    return '';
  }
}
