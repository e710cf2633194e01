"""The storage API against a plain in-memory model, with hypothesis's rule-based state machine.

Random sequences of get/put/delete (single and batch), list with every option,
delete_all, alarms, transactions (nested, rolled back, raising), refused values
(not JSON, NaN, lone surrogates, oversized keys and values, oversized batches),
interleaved with hibernate, wake, reload and engine restarts. After each step the
object's answer must equal the model's, and its whole storage must too; any
divergence is shrunk to a minimal sequence. The model and the rules are
tests/storage_model.py's (tests/test_sqlite_model.py runs them on the SQLite backend).

CI runs a short profile; `python bench/model.py` runs a long one
(DOTUI_MODEL_EXAMPLES, DOTUI_MODEL_STEPS).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.storage_model import EXAMPLES, STEPS, ModelMachine, json_values, keys


class StorageMachine(ModelMachine):
    """The KV backend: the shared rules, a batch fill and a reload of the classes."""

    @rule(entries=st.lists(st.tuples(keys, json_values), min_size=1, max_size=6))
    def fill(self, entries) -> None:
        self.run_ops([["put_many", entries]])

    @rule()
    def reload(self) -> None:
        self._run(self.engine.reload())


StorageMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_storage_matches_the_model = StorageMachine.TestCase
test_storage_matches_the_model.pytestmark = [pytest.mark.slow]
