import unittest

import inverter
from rollback_sdk import Executed, InvalidInput


class SetMetadataTest(unittest.TestCase):
    def test_sets_the_previous_value_back(self):
        a = Executed("set_metadata", {"resource_id": "vm", "key": "k", "value": "new", "previous": "old"})
        [inv] = inverter.invert(a)
        self.assertEqual(inv.input_parameters, {"resource_id": "vm", "key": "k", "value": "old", "previous": "new"})

    def test_nothing_to_undo_when_unchanged(self):
        a = Executed("set_metadata", {"resource_id": "vm", "key": "k", "value": "v", "previous": "v"})
        self.assertEqual(inverter.invert(a), [])

    def test_a_missing_field_is_invalid_input(self):
        with self.assertRaises(InvalidInput):
            inverter.invert(Executed("set_metadata", {"resource_id": "vm"}))


if __name__ == "__main__":
    unittest.main()
