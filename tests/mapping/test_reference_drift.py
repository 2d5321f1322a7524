"""docs/mapping-reference.md and docs/canonical-model.md are generated from the code: they must not drift.

When one of these tests fails, regenerate the files with ``python -m gateway.mapping.reference`` and commit
them with the change that moved them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapping.compiler import CONDITION_KEYS, MODIFIER_KEYS, SUGAR_KEYS, VALUE_KEYS
from gateway.mapping.language import OPERATIONS, documented_keys
from gateway.mapping.mapper import TOP_KEYS
from gateway.mapping.reference import UPDATE_COMMAND, references, run_example
from gateway.models import RULES
from gateway.models.reference import MODELS, code_lists

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", ["mapping-reference.md", "canonical-model.md", "request-signing.md"])
def test_committed_reference_matches_the_code(name: str) -> None:
    generated = references()[name]
    path = DOCS / name
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    if committed != generated:
        pytest.fail(f"docs/{name} is out of date with the code: run `{UPDATE_COMMAND}` to update it")


def test_every_key_the_compiler_accepts_is_documented() -> None:
    assert documented_keys("Top level") == set(TOP_KEYS)
    assert documented_keys("Sources") == set(VALUE_KEYS) | {"sep", "value", "from", "where"}
    assert documented_keys("Short forms") == set(SUGAR_KEYS)
    assert documented_keys("Modifiers") == set(MODIFIER_KEYS) - {"sep"}  # sep is documented with concat
    assert documented_keys("Conditions") | {"path", "field", "any", "all"} == set(CONDITION_KEYS)


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.example], ids=lambda op: f"{op.section}:{op.key}")
def test_every_example_compiles_and_runs(op) -> None:
    _, output, issues = run_example(op.example)
    assert output is not None
    # only the `required` example demonstrates a rejection
    assert bool(issues) == (op.key == "required"), issues


def test_the_canonical_reference_covers_every_field_code_list_and_rule() -> None:
    text = references()["canonical-model.md"]
    for model in MODELS:
        assert f"### {model.__name__}\n" in text
        for name, info in model.model_fields.items():
            assert f"| `{name}` |" in text
            assert info.description, f"{model.__name__}.{name} has no docstring: the reference needs its meaning"
    for enum in code_lists():
        assert f"### {enum.__name__}\n" in text
        for member in enum:
            assert f"| `{member.value}` | {member.label} |" in text
    for rule in RULES.values():
        assert f"| `{rule.name}` | {rule.kind} | {rule.stage} | {rule.default} |" in text
