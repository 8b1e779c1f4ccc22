/**
 * Sends a v2 infer request in Triton's binary form (JSON header, then the tensors' bytes) and splits the
 * reply the same way: its JSON header and the binary part after it.
 */
export async function inferBinary(base: string, model: string, header: object, chunks: Buffer[]) {
  const json = Buffer.from(JSON.stringify(header));
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
    body: Buffer.concat([json, ...chunks]),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const n = res.headers.get('inference-header-content-length');
  const headLen = n === null ? bytes.length : Number(n);
  return {
    status: res.status,
    headers: res.headers,
    head: JSON.parse(bytes.subarray(0, headLen).toString('utf8')),
    binary: bytes.subarray(headLen),
  };
}
