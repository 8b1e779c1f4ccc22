// Renders /openapi.json: one section per operation with its request schema, example and responses, and
// a button that sends the example. Everything from the document is written with textContent, never as HTML.

/** Creates an element with text and children. */
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** JSON for a <pre>, cut short: an OCR example is a whole base64 PNG. */
function shown(value, max = 3000) {
  const text = JSON.stringify(value, null, 2);
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text;
}

function operationSection(path, method, op) {
  const body = op.requestBody.content['application/json'];
  const reply = el('pre', { hidden: true });
  const send = el('button', { textContent: 'Send the example' });
  send.addEventListener('click', async () => {
    reply.hidden = false;
    reply.textContent = 'sending…';
    const res = await fetch(path, {
      method: method.toUpperCase(),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body.example),
    });
    reply.textContent = `${res.status} ${res.statusText}\n${shown(await res.json())}`;
  });
  const responses = el(
    'table',
    {},
    ...Object.entries(op.responses).map(([status, r]) =>
      el('tr', {}, el('td', { textContent: status }), el('td', { textContent: r.description })),
    ),
  );
  return el(
    'section',
    { id: op.operationId },
    el('h2', {}, el('span', { className: 'method', textContent: method.toUpperCase() }), path),
    el('p', { textContent: op.summary }),
    el('p', { className: 'muted', textContent: op.description }),
    el('h3', { textContent: 'Request body schema' }),
    el('pre', { textContent: shown(body.schema) }),
    el('h3', { textContent: "Example (the handler's own)" }),
    el('pre', { textContent: shown(body.example) }),
    send,
    reply,
    el('h3', { textContent: 'Responses' }),
    responses,
  );
}

const doc = await (await fetch('/openapi.json')).json();
document.getElementById('info').textContent = `OpenAPI ${doc.openapi} · ${doc.info.title} · version ${doc.info.version}`;
const list = document.getElementById('operations');
for (const [path, item] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(item)) list.append(operationSection(path, method, op));
}
