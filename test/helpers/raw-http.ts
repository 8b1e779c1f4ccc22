import net from 'node:net';

/** What came back on a raw connection: every byte the server wrote, and whether it closed the connection. */
export interface RawExchange {
  readonly text: string;
  /** The status of the last reply in `text` (a 100 Continue first is kept in `text`). */
  readonly status: number | undefined;
  /** The JSON body of the last reply, when it has one. */
  readonly json: any;
}

/** Opens a TCP connection to `url`'s host and port; resolves once it is connected. */
export function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads what the server writes until it closes the connection. */
export function untilClosed(socket: net.Socket): Promise<RawExchange> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => {});
    socket.once('close', () => resolve(parseLast(text)));
  });
}

/** Resolves with what has come once `text` contains `marker`. */
export function until(socket: net.Socket, marker: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes(marker)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
  });
}

/** The status and JSON body of the last HTTP reply in `text`. */
export function parseLast(text: string): RawExchange {
  // A status line starts the text or follows the end of a line (a body may mention "HTTP/1.1" itself).
  const starts = [...text.matchAll(/(?:^|\n)(HTTP\/1\.1 \d{3} )/g)];
  if (starts.length === 0) return { text, status: undefined, json: undefined };
  const last = starts[starts.length - 1];
  const at = last.index + last[0].length - last[1].length;
  const reply = text.slice(at);
  const status = Number(reply.slice(9, 12));
  const sep = reply.indexOf('\r\n\r\n');
  let json: any;
  try {
    json = sep < 0 ? undefined : JSON.parse(reply.slice(sep + 4));
  } catch {
    json = undefined;
  }
  return { text, status, json };
}
