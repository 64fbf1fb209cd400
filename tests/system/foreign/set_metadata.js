// Undoes set_metadata: sets the key back to what it was.
import { Executed, Inverse, InvalidInput, defineInverter } from './rollback_sdk.js';

export const invert = defineInverter({
  actionType: 'set_metadata',
  version: '1.0.0',
  description: 'Sets the key back to its previous value.',
  schema: {
    type: 'object',
    properties: {
      resource_id: { type: 'string', minLength: 1 },
      key: { type: 'string', minLength: 1 },
      value: { type: ['string', 'null'] },
      previous: { type: ['string', 'null'] },
    },
    required: ['resource_id', 'key', 'value', 'previous'],
    additionalProperties: false,
  },
  invert(action) {
    const resource = action.paramStr('resource_id');
    const key = action.paramStr('key');
    if (!('value' in action.inputParameters) || !('previous' in action.inputParameters)) {
      throw new InvalidInput('value and previous are required');
    }
    const value = action.param('value');
    const previous = action.param('previous');
    console.log(`set_metadata: ${resource} ${key} back to ${previous}`);
    if (value === previous) return [];
    return [new Inverse('set_metadata', { resource_id: resource, key, value: previous, previous: value },
      { expecting: action.result, description: `Set ${key} of ${resource} back to ${previous}` })];
  },
});
