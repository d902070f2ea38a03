"""YAML definition text -> problems with their path, line and column: one test per rule of
``pipeline.defined`` (the same model ingest uses), plus YAML's own errors."""

from __future__ import annotations

import pytest

from tracegraph.definitions.check import Problem, check_definition
from tracegraph.events import parse_event

GOOD = """\
# The nightly refresh. Comments are allowed anywhere.
version: "7"
description: Nightly RAG refresh
owner: team:search
schedule: "0 2 * * *"
sla:
  max_duration_ms: 3600000
steps:
  - key: fetch
    name: Fetch documents
  - key: embed          # an LLM step
    kind: llm
    depends_on: [fetch]
    owner: user:ana
    sla: {max_tokens: 50000}
  - key: index
    depends_on:
      - embed
"""


def _only(text: str) -> Problem:
    checked = check_definition("rag-nightly", text)
    assert checked.data is None
    assert len(checked.problems) == 1, checked.problems
    return checked.problems[0]


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def test_a_good_definition_gives_the_data_ingest_would_store() -> None:
    checked = check_definition("rag-nightly", GOOD)
    assert checked.problems == ()
    assert checked.data is not None
    assert checked.data["version"] == "7"
    assert [s["key"] for s in checked.data["steps"]] == ["fetch", "embed", "index"]
    assert checked.data["steps"][1]["sla"] == {"max_tokens": 50000}
    # Exactly what the ingest path makes of the same data.
    event = parse_event(
        {
            "id": "x",
            "type": "pipeline.defined",
            "time": "2026-12-03T00:00:00Z",
            "source": "t",
            "pipeline": "rag-nightly",
            "data": checked.data,
        }
    )
    assert event.model_dump(mode="json", exclude_none=True)["data"] == checked.data


def test_yaml_syntax_error_at_its_line() -> None:
    p = _only(_replace("    depends_on: [fetch]\n", "    depends_on: [fetch\n"))
    assert p.message.startswith("YAML syntax: ")
    assert p.path == ""
    assert p.line == 14  # where the parser found the flow sequence unclosed


def test_yaml_tab_indentation_error_at_its_line() -> None:
    p = _only(_replace("    kind: llm\n", "\tkind: llm\n"))
    assert p.message.startswith("YAML syntax: ")
    assert p.line == 12


def test_repeated_mapping_key_is_an_error_at_the_second() -> None:
    p = _only(_replace("owner: team:search\n", "owner: team:search\nowner: team:other\n"))
    assert (p.message, p.path, p.line, p.column) == (
        "duplicate key 'owner' (also line 4)",
        "owner",
        5,
        1,
    )


def test_schema_wrong_type_at_the_value() -> None:
    p = _only(_replace("    kind: llm\n", "    kind: [llm]\n"))
    assert (p.path, p.line, p.column) == ("steps[1].kind", 12, 11)
    assert p.message == "must be a string (got ['llm'])"


def test_schema_missing_field_at_its_parent() -> None:
    p = _only(_replace("  - key: index\n", "  - name: index\n"))
    assert (p.message, p.path, p.line) == ("required", "steps[2].key", 16)


def test_not_a_mapping() -> None:
    p = _only("- a\n- b\n")
    assert (p.path, p.line) == ("", 1)
    assert "must be a mapping" in p.message


def test_duplicate_step_key_at_the_second_key() -> None:
    p = _only(_replace("  - key: index\n", "  - key: fetch\n"))
    assert (p.message, p.path, p.line, p.column) == (
        "duplicate step key 'fetch' (also steps[0])",
        "steps[2].key",
        16,
        10,
    )


def test_unknown_dependency_at_the_entry() -> None:
    p = _only(_replace("      - embed\n", "      - embedd\n"))
    assert p.message == "unknown step 'embedd' (known: embed, fetch)"
    assert (p.path, p.line, p.column) == ("steps[2].depends_on", 18, 9)


def test_cycle_at_the_dependency_that_closes_it() -> None:
    # fetch (defined first) now depends on index: fetch -> embed -> index -> fetch.
    p = _only(
        _replace(
            "    name: Fetch documents\n", "    name: Fetch documents\n    depends_on: [index]\n"
        )
    )
    assert p.message == "steps form a dependency cycle: fetch -> embed -> index -> fetch"
    assert (p.path, p.line, p.column) == ("steps", 11, 18)


def test_self_dependency_is_a_cycle_at_its_line() -> None:
    p = _only(_replace("      - embed\n", "      - embed\n      - index\n"))
    assert p.message == "steps form a dependency cycle: index -> index"
    assert (p.line, p.column) == (19, 9)


def test_bad_owner_at_its_value() -> None:
    p = _only(_replace("    owner: user:ana\n", "    owner: ana\n"))
    assert p.message == "'ana' is not a valid owner (expected team:<name> or user:<name>)"
    assert (p.path, p.line, p.column) == ("steps[1].owner", 14, 12)


@pytest.mark.parametrize(
    ("sla", "path", "message", "column"),
    [
        ("{max_tokens: -5}", "steps[1].sla.max_tokens", "must be >= 0 (got -5)", 23),
        ("{max_tokens: lots}", "steps[1].sla.max_tokens", "must be an integer (got 'lots')", 23),
        (
            "{min_success_rate: 0.9}",
            "steps[1].sla.window",
            "required when min_success_rate is set",
            10,
        ),
        (
            "{min_success_rate: 0.9, window: 1 day}",
            "steps[1].sla.window",
            "'1 day' is not an ISO 8601 duration (e.g. P1D, PT1H, P7D)",
            42,
        ),
    ],
)
def test_bad_sla_at_its_value(sla: str, path: str, message: str, column: int) -> None:
    p = _only(_replace("    sla: {max_tokens: 50000}\n", f"    sla: {sla}\n"))
    assert (p.message, p.path, p.line, p.column) == (message, path, 15, column)


def test_every_field_problem_is_reported_in_line_order() -> None:
    text = _replace("owner: team:search\n", "owner: search\n").replace(
        "max_duration_ms: 3600000", "max_duration_ms: -1"
    )
    checked = check_definition("rag-nightly", text)
    assert [(p.path, p.line) for p in checked.problems] == [
        ("owner", 4),
        ("sla.max_duration_ms", 7),
    ]


def test_a_bad_pipeline_name_is_a_problem_without_a_line() -> None:
    checked = check_definition("no spaces allowed", GOOD)
    assert [(p.path, p.line) for p in checked.problems] == [("pipeline", None)]


def test_yaml_dates_stay_text_and_versions_numbers_become_text() -> None:
    checked = check_definition("p", "version: 3\ndescription: 2026-12-03\n")
    assert checked.data == {"version": "3", "description": "2026-12-03", "steps": []}


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    checked = check_definition("p", "\n".join(lines) + "\n")
    assert checked.data is None
    assert "more than" in checked.problems[0].message


def test_keys_the_contract_does_not_define_are_warnings_at_their_line() -> None:
    text = _replace("    kind: llm\n", "    knid: llm\n").replace(
        "sla: {max_tokens: 50000}", "sla: {max_token: 50000}"
    )
    checked = check_definition("rag-nightly", text)
    assert checked.problems == ()
    assert checked.data is not None and checked.data["steps"][1]["knid"] == "llm"
    assert [(w.path, w.line, w.column) for w in checked.warnings] == [
        ("steps[1].knid", 12, 5),
        ("steps[1].sla.max_token", 15, 11),
    ]
    assert checked.warnings[0].message.startswith("unknown key 'knid': kept as an extension")
    assert check_definition("rag-nightly", GOOD).warnings == ()
