/**
 * Raw request bodies: the OCR examples take a PNG posted as it is (`content-type: image/png`), or uploaded as
 * the file part of a multipart form (`curl -F file=@line.png`), as well as base64 inside JSON, with the same
 * answers; a type a function does not take is a 415, a too-large body a 413, and bytes that are not an image,
 * or a form without a file, a 400 for that call alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { fixtures } from '../helpers/fixtures.ts';
import { call, startRuntime } from '../helpers/serve.ts';

const bodyBytes = 64 * 1024;
let s: Serving;

before(async () => {
  // Admission off: these calls are about answers, not about meeting the SLO on a busy machine.
  s = await startRuntime({ scheduler: { admission: false }, limits: { bodyBytes } });
});
after(() => s.stop());

const png = (file: string) => readFileSync(new URL(`../fixtures/${file}`, import.meta.url));

async function post(name: string, body: Uint8Array | string, contentType: string) {
  const res = await fetch(`${s.url}/functions/${name}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: (await res.json()) as any };
}

describe('raw image bodies', () => {
  for (const name of ['text-direction', 'needs-rotation', 'read-line']) {
    test(`${name}: a PNG posted raw gets the same answer as the same PNG in base64 JSON`, async () => {
      for (const f of fixtures) {
        const asJson = await call(s.url, name, { image: f.base64 });
        const raw = await post(name, png(f.file), 'image/png');
        assert.equal(asJson.status, 200, JSON.stringify(asJson.body));
        assert.equal(raw.status, 200, JSON.stringify(raw.body));
        assert.deepEqual(raw.body, asJson.body, f.file);
      }
    });
  }

  test('application/octet-stream and a content type with parameters are taken too', async () => {
    const f = fixtures[0];
    const want = (await call(s.url, 'text-direction', { image: f.base64 })).body;
    for (const type of ['application/octet-stream', 'IMAGE/PNG; charset=binary']) {
      const r = await post('text-direction', png(f.file), type);
      assert.equal(r.status, 200, `${type}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, want, type);
    }
  });

  test('a type the function does not take is a 415 that says what it takes', async () => {
    const f = fixtures[0];
    const notListed = await post('text-direction', png(f.file), 'image/gif');
    assert.equal(notListed.status, 415);
    assert.equal(notListed.body.error.code, 'unsupported_media_type');
    assert.deepEqual(notListed.body.error.accepts, [
      'application/json',
      'image/png',
      'image/jpeg',
      'application/octet-stream',
      'multipart/form-data',
    ]);
    // A function without a `raw` option takes JSON only.
    const noRaw = await post('mlp-classify', png(f.file), 'image/png');
    assert.equal(noRaw.status, 415);
    assert.deepEqual(noRaw.body.error.accepts, ['application/json']);
  });

  test('a raw body over limits.bodyBytes is a 413', async () => {
    const big = new Uint8Array(bodyBytes + 1);
    big.set(png(fixtures[0].file));
    const r = await post('text-direction', big, 'image/png');
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'payload_too_large');
  });

  test('bytes that are not a PNG are a 400 for that call, and the calls beside it are answered', async () => {
    const good = fixtures.map((f) => post('text-direction', png(f.file), 'image/png'));
    const bad = [
      post('text-direction', new TextEncoder().encode('not a png at all'), 'image/png'),
      post('text-direction', png(fixtures[0].file).subarray(0, 200), 'image/png'),
    ];
    const [notPng, truncated] = await Promise.all(bad);
    assert.equal(notPng.status, 400);
    assert.equal(notPng.body.error.code, 'invalid_input');
    assert.match(notPng.body.error.message, /not a PNG or JPEG/);
    assert.equal(truncated.status, 400);
    assert.match(truncated.body.error.message, /could not be decoded/);
    for (const [i, r] of (await Promise.all(good)).entries()) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.angle, fixtures[i].angle, fixtures[i].file);
    }
  });

  test('JSON bodies are read as before, with or without a content type', async () => {
    const f = fixtures[0];
    const r = await post('text-direction', JSON.stringify({ image: f.base64 }), 'text/plain');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.angle, f.angle);
  });
});

/** A form as a browser or `curl -F` sends it: fetch writes the multipart body and its boundary. */
function form(parts: [name: string, value: string | Blob, filename?: string][]): FormData {
  const f = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') f.append(name, value);
    else f.append(name, value, filename);
  }
  return f;
}

async function upload(name: string, body: FormData) {
  const res = await fetch(`${s.url}/functions/${name}`, { method: 'POST', body });
  return { status: res.status, body: (await res.json()) as any };
}

const pngBlob = (file: string, type = 'image/png') => new Blob([png(file)], { type });

describe('multipart uploads', () => {
  for (const name of ['text-direction', 'needs-rotation', 'read-line']) {
    test(`${name}: a PNG uploaded as a form's file part gets the same answer as base64 JSON`, async () => {
      for (const f of fixtures) {
        const asJson = await call(s.url, name, { image: f.base64 });
        const uploaded = await upload(name, form([['file', pngBlob(f.file), f.file]]));
        assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
        assert.deepEqual(uploaded.body, asJson.body, f.file);
      }
    });
  }

  test('the first file part is taken, whatever its field name, after any text fields', async () => {
    const [first, second] = [fixtures.find((f) => f.angle === 0)!, fixtures.find((f) => f.angle === 180)!];
    const r = await upload(
      'read-line',
      form([
        ['note', 'hello'],
        ['image', pngBlob(first.file), first.file],
        ['other', pngBlob(second.file), second.file],
      ]),
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.text, first.text);
    // A file part with no type (an unknown file) is taken as application/octet-stream, which the OCR examples take.
    const untyped = await upload('text-direction', form([['file', pngBlob(second.file, ''), 'line']]));
    assert.equal(untyped.status, 200, JSON.stringify(untyped.body));
    assert.equal(untyped.body.angle, second.angle);
    // A file input left empty, as a browser sends it (written by hand: fetch's FormData does not write this
    // part): a file name of "" and no bytes, before the real file.
    const head = (field: string, file: string, type: string) =>
      `--xyz\r\nContent-Disposition: form-data; name="${field}"; filename="${file}"\r\nContent-Type: ${type}\r\n\r\n`;
    const withEmpty = Buffer.concat([
      Buffer.from(head('attachment', '', 'application/octet-stream') + '\r\n'),
      Buffer.from(head('image', first.file, 'image/png')),
      png(first.file),
      Buffer.from('\r\n--xyz--\r\n'),
    ]);
    const afterEmpty = await post('read-line', withEmpty, 'multipart/form-data; boundary=xyz');
    assert.equal(afterEmpty.status, 200, JSON.stringify(afterEmpty.body));
    assert.equal(afterEmpty.body.text, first.text);
  });

  test('a form without a file part, or a body that is not a form, is a 400 that says so', async () => {
    const fieldsOnly = await upload(
      'text-direction',
      form([
        ['image', fixtures[0].base64],
        ['lang', 'en'],
      ]),
    );
    assert.equal(fieldsOnly.status, 400);
    assert.equal(fieldsOnly.body.error.code, 'bad_request');
    assert.match(fieldsOnly.body.error.message, /must carry a file part.*only the text fields "image", "lang"/);
    const notAForm = await post('text-direction', 'this is not a multipart body', 'multipart/form-data; boundary=xyz');
    assert.equal(notAForm.status, 400);
    assert.equal(notAForm.body.error.code, 'bad_request');
    assert.match(notAForm.body.error.message, /could not be parsed/);
  });

  test('a file part of a type the function does not take is a 415; a function without raw takes no form', async () => {
    const gif = await upload('text-direction', form([['file', pngBlob(fixtures[0].file, 'image/gif'), 'line.gif']]));
    assert.equal(gif.status, 415);
    assert.equal(gif.body.error.code, 'unsupported_media_type');
    assert.match(gif.body.error.message, /does not take a form part \("file"\) of type image\/gif/);
    assert.equal(gif.body.error.contentType, 'image/gif');
    assert.equal(gif.body.error.part, 'file');
    const noRaw = await upload('mlp-classify', form([['file', pngBlob(fixtures[0].file), 'line.png']]));
    assert.equal(noRaw.status, 415);
    assert.deepEqual(noRaw.body.error.accepts, ['application/json']);
  });

  test('bad forms beside good uploads: each answered on its own', async () => {
    const good = fixtures.map((f) => upload('text-direction', form([['file', pngBlob(f.file), f.file]])));
    const bad = [
      upload('text-direction', form([['only', 'text']])),
      upload('text-direction', form([['file', new Blob([new TextEncoder().encode('not a png')], { type: 'image/png' }), 'x.png']])),
    ];
    const [noFile, notPng] = await Promise.all(bad);
    assert.equal(noFile.status, 400);
    assert.equal(notPng.status, 400);
    assert.match(notPng.body.error.message, /not a PNG or JPEG/);
    for (const [i, r] of (await Promise.all(good)).entries()) {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.angle, fixtures[i].angle, fixtures[i].file);
    }
  });
});
