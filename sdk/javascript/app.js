// The component's entry point: the SDK's glue exports the contract;
// importing inverter.js registers your function.
import './inverter.js';
export { inverter, batchInverter } from './rollback_component.js';
