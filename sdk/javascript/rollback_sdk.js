// rollback-host's JavaScript SDK for inverter plugins.
//
// An inverter undoes one Watcher action type. Write a function that takes an
// `Executed` action and returns a list of `Inverse` actions, register it with
// `defineInverter({...})`, and build with componentize-js (see the README the
// generator wrote). This file needs nothing of the WebAssembly runtime, so
// the same inverter runs under Node for tests (`node --test`).
//
// Inside the sandbox there is no WASI: no files, no network, no clock and no
// real randomness (Math.random is seeded at build time). The SDK's glue makes
// the traps obvious: console.* goes to the host's log, and Date.now() or
// new Date() without arguments throws SandboxError instead of answering the
// build's time. A plugin must be a pure function of its input.

/** The action does not carry what this action type should. */
export class InvalidInput extends Error {
  constructor(message) { super(message); this.name = 'InvalidInput'; }
}

/** The action is understood but cannot be undone; the rollback is refused. */
export class NotInvertible extends Error {
  constructor(message) { super(message); this.name = 'NotInvertible'; }
}

/** What the plugin tried is not available in the sandbox. */
export class SandboxError extends Error {
  constructor(message) { super(message); this.name = 'SandboxError'; }
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
let sink = (level, message) => console.error(`[${level}] ${message}`);

/** Where log lines go (the glue points it at the host's `log`). */
export function setLogSink(f) { sink = f; }

/** `log.info('...')` and friends: the host's log (64 lines a call kept). */
export const log = Object.fromEntries(LEVELS.map((l) => [l, (message) => sink(l, String(message))]));

function field(where, record, key, want, dflt) {
  const v = record[key];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
    throw new InvalidInput(`${where}.${key} must be ${want}`);
  }
  if (typeof v !== 'string') throw new InvalidInput(`${where}.${key} must be ${want}`);
  return v;
}

/** One executed action: `inputParameters`, the `preState` observed just
 * before acting, and its `result` (plain objects). */
export class Executed {
  constructor(actionType, inputParameters, preState = {}, result = {}, uuid = '00000000-0000-0000-0000-000000000000') {
    this.uuid = uuid;
    this.actionType = actionType;
    this.inputParameters = inputParameters ?? {};
    this.preState = preState ?? {};
    this.result = result ?? {};
  }
  param(key, dflt) { return this.inputParameters[key] ?? dflt; }
  paramStr(key, dflt) { return field('input_parameters', this.inputParameters, key, 'a string', dflt); }
  pre(key, dflt) { return this.preState[key] ?? dflt; }
  preStr(key, dflt) { return field('pre_state', this.preState, key, 'a string', dflt); }
  res(key, dflt) { return this.result[key] ?? dflt; }
  resStr(key, dflt) { return field('result', this.result, key, 'a string', dflt); }
}

/** One action of the rollback plan. `expecting`: the state it expects on its
 * resource (usually the original's result; the applier skips it when the
 * resource changed since). `beforeDependents`: run it before, not after, the
 * inverses of what depended on the original. `dependsOn`: indices into the
 * same returned list. */
export class Inverse {
  constructor(actionType, inputParameters, { expecting = {}, description = '', dependsOn = [], beforeDependents = false } = {}) {
    if (typeof inputParameters !== 'object' || inputParameters === null || Array.isArray(inputParameters)) {
      throw new TypeError('inputParameters must be an object');
    }
    this.actionType = actionType;
    this.inputParameters = inputParameters;
    this.expectedState = expecting ?? {};
    this.description = description;
    this.dependsOn = dependsOn.map(Number);
    this.beforeDependents = Boolean(beforeDependents);
  }
}

let registered = null;

/** Registers this plugin's inverter: `{actionType, version, description,
 * schema, invert}`, `schema` the JSON Schema (an object) of the action's
 * input_parameters, `invert(action: Executed) => Inverse[]`. Returns `invert`. */
export function defineInverter(plugin) {
  for (const k of ['actionType', 'version', 'description', 'schema', 'invert']) {
    if (plugin[k] === undefined) throw new TypeError(`defineInverter: ${k} is required`);
  }
  registered = plugin;
  return plugin.invert;
}

/** The registered plugin (for the glue and for tests). */
export function registeredInverter() {
  if (registered === null) throw new Error('no defineInverter({...}) was called');
  return registered;
}
