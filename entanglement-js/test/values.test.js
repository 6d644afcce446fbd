// Values between the wire and JavaScript: kinds learned from objects, given explicitly, or inferred.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { typed } from '../dist/index.js';
import { fromAttributes, learn, toAttributes, toValue } from '../dist/values.js';
import { ValueSchema } from '../dist/gen/entanglement/v1/replication_pb.js';

test('a string is written with the kind learned for its attribute, or given, or as text', () => {
  const schema = {};
  learn(schema, [
    { name: 'status', value: create(ValueSchema, { kind: { case: 'enumConstant', value: 'TODO' } }) },
    { name: 'due', value: create(ValueSchema, { kind: { case: 'temporal', value: '2026-12-01' } }) },
    { name: 'note', value: create(ValueSchema, { kind: { case: 'null', value: true } }) },
  ]);
  const written = toAttributes({ status: 'DONE', due: '2026-12-24', note: 'plain', id: typed.uuid('6f1c5b0e-3b7a-4c55-9d1e-2a8f0c1b2d3e') }, schema);
  assert.deepEqual(written.map((a) => a.value.kind.case), ['enumConstant', 'temporal', 'text', 'uuid']);
  assert.equal(toValue(3).kind.case, 'integer');
  assert.equal(toValue(2.5).kind.case, 'real');
  assert.equal(toValue(2, 'real').kind.case, 'real');
  assert.throws(() => toValue(2.5, 'integer'), /expects an integer/);
  assert.deepEqual(fromAttributes(written), { status: 'DONE', due: '2026-12-24', note: 'plain', id: '6f1c5b0e-3b7a-4c55-9d1e-2a8f0c1b2d3e' });
  // big integers stay exact
  assert.equal(fromAttributes([{ name: 'n', value: toValue(2n ** 60n) }]).n, 2n ** 60n);
});
