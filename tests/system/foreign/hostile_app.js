// A hostile inverter (tests/system/foreign-plugins.py): the raw componentize-js
// bindings, no SDK; its `mode` parameter picks the misbehaviour.
import { log } from 'watcher:rollback/log@0.1.1';

const nop = (message) => [{ actionType: 'nop', inputParameters: JSON.stringify({ message }), dependsOn: new Uint32Array([]),
  description: '', expectedState: '{}', beforeDependents: false }];

export const inverter = {
  metadata() {
    return { actionType: 'hostile_js', pluginVersion: '0.0.1', description: 'misbehaves on purpose',
      parametersSchema: JSON.stringify({ type: 'object', properties: { mode: { type: 'string' } }, required: ['mode'] }) };
  },
  invert(action) {
    const mode = JSON.parse(action.inputParameters).mode;
    switch (mode) {
      case 'fine': return nop('fine');
      case 'spin': for (;;) {}
      case 'bomb': { const hoard = []; for (;;) hoard.push(new Uint8Array(1 << 20).fill(1)); }
      case 'recurse': { const down = (n) => down(n + 1) + 1; return nop(String(down(0))); }
      case 'huge': return nop('x'.repeat(4 << 20));
      case 'many': return new Array(1001).fill(nop('m')[0]);
      case 'bad_json': return [{ ...nop('x')[0], inputParameters: '{not json' }];
      case 'throw': throw new Error('thrown outside the contract');
      case 'env': return nop(JSON.stringify(typeof process === 'undefined' ? {} : process.env));
      case 'fetch': return nop(typeof fetch);
      case 'clock': return nop(String(Date.now()));
      case 'print': console.log('hello'); return nop('printed');
      case 'log_flood': for (let i = 0; i < 200; i++) log('error', `flood ${i}`); return nop('flooded');
      default: { const e = new Error('unknown mode'); e.payload = { tag: 'not-invertible', val: 'unknown mode ' + mode }; throw e; }
    }
  },
};

export const batchInverter = {
  invertBatch(actions) {
    return actions.map((a) => {
      try { return { tag: 'ok', val: inverter.invert(a) }; } catch (e) { return { tag: 'err', val: e.payload || { tag: 'internal', val: String(e) } }; }
    });
  },
};
