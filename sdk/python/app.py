# The component's entry point (componentize-py's "app" module): the SDK's
# glue exports the contract; importing inverter registers your function.
from rollback_component import Inverter, BatchInverter  # noqa: F401
import inverter  # noqa: F401
