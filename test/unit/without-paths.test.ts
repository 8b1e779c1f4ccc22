import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutPaths } from '../../runtime/without-paths.ts';

test('absolute paths and file URLs are cut to their last part, wherever they stand in a message', () => {
  assert.equal(
    withoutPaths("ENOENT: no such file or directory, open '/srv/app/models/missing.onnx'"),
    "ENOENT: no such file or directory, open 'missing.onnx'",
  );
  assert.equal(
    withoutPaths('Load model from /home/ci/edgebatch/test/tmp/x-1/missing.onnx failed:Load model failed'),
    'Load model from missing.onnx failed:Load model failed',
  );
  assert.equal(withoutPaths('cannot read /etc/passwd (denied)'), 'cannot read passwd (denied)');
  assert.equal(withoutPaths('at file:///opt/app/functions/bad.ts:1:59: Expected identifier'), 'at bad.ts:1:59: Expected identifier');
  assert.equal(withoutPaths('two: /a/b/c.ts and "/d/e.txt"'), 'two: c.ts and "e.txt"');
  // In quotes a path may hold spaces (a user's folder): nothing of it before its last part is left.
  assert.equal(
    withoutPaths("ENOENT: no such file or directory, open '/home/Jane Doe/srv/app/models/x.onnx'"),
    "ENOENT: no such file or directory, open 'x.onnx'",
  );
  assert.equal(withoutPaths('from "file:///Users/A B/my app/h.ts" and /c/d.ts'), 'from "h.ts" and d.ts');
});

test('what is not a path of the disk stays as it is', () => {
  for (const text of [
    'it takes image/png, image/jpeg, application/octet-stream',
    'see http://127.0.0.1:8787/functions/mlp for its example',
    'GET /healthz answers 200',
    'a relative path functions/_shared/ocr.ts is no secret',
    'no slash at all',
    'ratio 1/2 and 3 / 4',
  ])
    assert.equal(withoutPaths(text), text);
});
