// node web/live/patch.test.mjs — checks applyPatch against patches in the
// shape src/http/patch.rs makes (the Rust side has the same cases).
import assert from 'node:assert/strict';
import { applyPatch, touches } from './patch.js';

const person = (id, on) => ({ user_id: id, name: `P${id}`, on_stage: on });

// Objects: changed keys, new keys, removed keys; the input is not modified.
{
  const a = { a: 1, b: { c: 2, d: 3 }, gone: true };
  const p = { '{}': { b: { '{}': { d: { '=': 4 } } }, new: { '=': 'x' } }, '-': ['gone'] };
  assert.deepEqual(applyPatch(a, p), { a: 1, b: { c: 2, d: 4 }, new: 'x' });
  assert.deepEqual(a, { a: 1, b: { c: 2, d: 3 }, gone: true });
  assert.ok(touches(p, 'b') && !touches(p, 'a'));
}
// Lists: upserts in place, removals, new items appended, no order given.
{
  const a = [person(1, false), person(7, false), person(9, false)];
  const p = { '[]': { key: 'user_id', upsert: [person(7, true), person(51, false)], remove: [9] } };
  assert.deepEqual(applyPatch(a, p), [person(1, false), person(7, true), person(51, false)]);
}
// Lists: a new order.
{
  const q = (id, votes) => ({ id, votes });
  const p = { '[]': { key: 'id', upsert: [q(3, 4)], order: [3, 1, 2] } };
  assert.deepEqual(applyPatch([q(1, 3), q(2, 2), q(3, 1)], p), [q(3, 4), q(1, 3), q(2, 2)]);
}
// Replacements and string ids.
{
  assert.deepEqual(applyPatch({ s: [1, 2] }, { '{}': { s: { '=': [2, 1] } } }), { s: [2, 1] });
  assert.deepEqual(applyPatch([], { '[]': { key: 'id', upsert: [{ id: 'x' }] } }), [{ id: 'x' }]);
  assert.deepEqual(applyPatch(null, { '{}': { a: { '=': 1 } } }), { a: 1 });
}
console.log('patch.test.mjs: all passed');
