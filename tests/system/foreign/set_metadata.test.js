import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invert } from './inverter.js';
import { Executed, InvalidInput } from './rollback_sdk.js';

test('sets the previous value back', () => {
  const [inv] = invert(new Executed('set_metadata', { resource_id: 'vm', key: 'k', value: 'new', previous: 'old' }));
  assert.deepEqual(inv.inputParameters, { resource_id: 'vm', key: 'k', value: 'old', previous: 'new' });
});

test('nothing to undo when unchanged', () => {
  assert.deepEqual(invert(new Executed('set_metadata', { resource_id: 'vm', key: 'k', value: 'v', previous: 'v' })), []);
});

test('a missing field is invalid input', () => {
  assert.throws(() => invert(new Executed('set_metadata', { resource_id: 'vm' })), InvalidInput);
});
