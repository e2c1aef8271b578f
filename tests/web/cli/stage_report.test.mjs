// The CLI's --profile table (web/cli/stage_report.mjs): kinds summed from the pipeline keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatProfile } from '../../../web/cli/stage_report.mjs';

test('formatProfile sums kernels into kinds by the key before the first colon, longest first', () => {
  const rows = [
    { name: 'tc-gemm:linear:8192:320', ms: 6, dispatches: 2 },
    { name: 'attention:2:8:4096', ms: 5, dispatches: 1 },
    { name: 'tc-gemm:conv:3:3', ms: 3, dispatches: 4 },
    { name: 'tc-pack:conv:3:3', ms: 1, dispatches: 4 },
  ];
  const lines = formatProfile(rows).split('\n');
  assert.match(lines[0], /15\.0 ms in 4 kernels/);
  assert.equal(lines[1], 'by kind:');
  assert.match(lines[2], /^\s+9\.00 ms\s+60\.0 %\s+6x {2}tc-gemm$/);
  assert.match(lines[3], /^\s+5\.00 ms\s+33\.3 %\s+1x {2}attention$/);
  assert.match(lines[4], /^\s+1\.00 ms\s+6\.7 %\s+4x {2}tc-pack$/);
  assert.equal(lines[5], 'longest kernels:');
  assert.match(lines[6], /6\.00 ms .* tc-gemm:linear:8192:320$/);
  assert.equal(lines.length, 10);
});

test('formatProfile says why there is no profile', () => {
  assert.equal(formatProfile(null), 'kernel profile: this device has no timestamp-query');
});
