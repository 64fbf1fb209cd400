// The glue between rollback_sdk.js and the component model (componentize-js).
// app.js re-exports `inverter` and `batchInverter` from here. Importing it
// routes console.* to the host's log (a build without stdio drops it
// silently) and makes the frozen clock throw SandboxError.
import { log as hostLog } from 'watcher:rollback/log@0.1.1';
import {
  Executed, Inverse, InvalidInput, NotInvertible, SandboxError, registeredInverter, setLogSink,
} from './rollback_sdk.js';

setLogSink((level, message) => hostLog(level, message));
const line = (level) => (...args) => hostLog(level, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
globalThis.console = {
  log: line('info'), info: line('info'), debug: line('debug'), trace: line('trace'), warn: line('warn'), error: line('error'),
};

const clock = () => {
  throw new SandboxError('the clock is not available to a plugin (it would answer the build\'s time): '
    + 'an inverter must be a pure function of its input');
};
const RealDate = Date;
class SandboxDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) clock();
    super(...args);
  }
  static now() { return clock(); }
}
globalThis.Date = SandboxDate;

function object(name, text) {
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new InvalidInput(`${name} is not JSON: ${e.message}`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidInput(`${name} must be a JSON object`);
  return v;
}

function one(action) {
  const plugin = registeredInverter();
  const executed = new Executed(action.actionType, object('input_parameters', action.inputParameters),
    object('pre_state', action.preState), object('result', action.result), action.actionUuid);
  const answer = plugin.invert(executed) ?? [];
  return answer.map((inv, i) => {
    if (!(inv instanceof Inverse)) throw new TypeError(`invert returned ${typeof inv} at index ${i}; expected an Inverse`);
    return {
      actionType: inv.actionType,
      inputParameters: JSON.stringify(inv.inputParameters),
      dependsOn: new Uint32Array(inv.dependsOn),
      description: inv.description,
      expectedState: JSON.stringify(inv.expectedState),
      beforeDependents: inv.beforeDependents,
    };
  });
}

function error(e) {
  if (e instanceof InvalidInput) return { tag: 'invalid-input', val: e.message };
  if (e instanceof NotInvertible) return { tag: 'not-invertible', val: e.message };
  const name = (e && e.name) || 'Error';
  hostLog('error', `${name}: ${e && e.message}${e && e.stack ? ` (at ${String(e.stack).split('\n').slice(0, 5).join(' <- ')})` : ''}`);
  return { tag: 'internal', val: `${name}: ${e && e.message}` };
}

class ContractError extends Error {
  constructor(payload) { super(payload.val); this.payload = payload; }
}

export const inverter = {
  metadata() {
    const p = registeredInverter();
    return { actionType: p.actionType, pluginVersion: p.version, description: p.description, parametersSchema: JSON.stringify(p.schema) };
  },
  invert(action) {
    try {
      return one(action);
    } catch (e) {
      throw new ContractError(error(e));
    }
  },
};

export const batchInverter = {
  invertBatch(actions) {
    return actions.map((a) => {
      try {
        return { tag: 'ok', val: one(a) };
      } catch (e) {
        return { tag: 'err', val: error(e) };
      }
    });
  },
};
