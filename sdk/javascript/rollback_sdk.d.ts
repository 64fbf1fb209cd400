// TypeScript declarations of rollback_sdk.js (rollback-host's JavaScript SDK
// for inverter plugins). Editors read them for completion; `npm run
// typecheck` (tsc with checkJs) checks inverter.js against them. Written
// with the SDK, from the same contract (`rollback-host plugin wit`).

/** A JSON object, as the records' fields are. */
export type JsonObject = { [key: string]: unknown };

/** The action does not carry what this action type should. */
export class InvalidInput extends Error {
  constructor(message: string);
}

/** The action is understood but cannot be undone; the rollback is refused. */
export class NotInvertible extends Error {
  constructor(message: string);
}

/** What the plugin tried is not available in the sandbox. */
export class SandboxError extends Error {
  constructor(message: string);
}

/** A log level of the host's `log`. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** `log.info('...')` and friends: the host's log (64 lines a call kept). */
export const log: { readonly [L in Level]: (message: unknown) => void };

/** Where log lines go (the glue points it at the host's `log`). */
export function setLogSink(f: (level: Level, message: string) => void): void;

/** One executed action: its `inputParameters`, the `preState` observed just
 * before acting, and its `result`. */
export class Executed {
  constructor(actionType: string, inputParameters: JsonObject, preState?: JsonObject, result?: JsonObject, uuid?: string);
  readonly uuid: string;
  readonly actionType: string;
  readonly inputParameters: JsonObject;
  readonly preState: JsonObject;
  readonly result: JsonObject;
  /** `inputParameters[key]`, or `dflt` when absent. */
  param(key: string, dflt?: unknown): unknown;
  /** `inputParameters[key]` as a string; InvalidInput when absent (without `dflt`) or not a string. */
  paramStr(key: string, dflt?: string): string;
  pre(key: string, dflt?: unknown): unknown;
  preStr(key: string, dflt?: string): string;
  res(key: string, dflt?: unknown): unknown;
  resStr(key: string, dflt?: string): string;
}

/** Options of an inverse action. */
export interface InverseOptions {
  /** The state it expects on its resource (usually the original's result;
   * the applier skips it when the resource changed since). */
  expecting?: JsonObject;
  description?: string;
  /** Indices into the same returned list. */
  dependsOn?: number[];
  /** Run it before, not after, the inverses of what depended on the original. */
  beforeDependents?: boolean;
}

/** One action of the rollback plan. */
export class Inverse {
  constructor(actionType: string, inputParameters: JsonObject, options?: InverseOptions);
  readonly actionType: string;
  readonly inputParameters: JsonObject;
  readonly expectedState: JsonObject;
  readonly description: string;
  readonly dependsOn: number[];
  readonly beforeDependents: boolean;
}

/** What `defineInverter` registers. */
export interface InverterDefinition {
  /** The action type it undoes (lower case, digits, `_`). */
  actionType: string;
  version: string;
  description: string;
  /** The JSON Schema of the action's input_parameters. */
  schema: JsonObject;
  invert(action: Executed): Inverse[];
}

/** Registers this plugin's inverter; returns its `invert`. */
export function defineInverter(plugin: InverterDefinition): (action: Executed) => Inverse[];

/** The registered plugin (for the glue and for tests). */
export function registeredInverter(): InverterDefinition;
