"""Undoes set_metadata: sets the key back to what it was."""
from rollback_sdk import Executed, Inverse, InvalidInput, inverter

SCHEMA = {
    "type": "object",
    "properties": {
        "resource_id": {"type": "string", "minLength": 1},
        "key": {"type": "string", "minLength": 1},
        "value": {"type": ["string", "null"]},
        "previous": {"type": ["string", "null"]},
    },
    "required": ["resource_id", "key", "value", "previous"],
    "additionalProperties": False,
}


@inverter("set_metadata", version="1.0.0", description="Sets the key back to its previous value.", schema=SCHEMA)
def invert(action: Executed) -> list:
    resource = action.param_str("resource_id")
    key = action.param_str("key")
    if "value" not in action.input_parameters or "previous" not in action.input_parameters:
        raise InvalidInput("value and previous are required")
    value, previous = action.param("value"), action.param("previous")
    print(f"set_metadata: {resource} {key} back to {previous!r}")
    if value == previous:
        return []
    return [Inverse("set_metadata", {"resource_id": resource, "key": key, "value": previous, "previous": value},
                    expecting=action.result, description=f"Set {key} of {resource} back to {previous!r}")]
