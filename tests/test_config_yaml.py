"""The one reader of Tongban's configuration YAML (gateway/kernel/yamlfile.py): keys as written, duplicate keys
refused with file and line, values with their YAML types — checked with the YAML the outside review wrote, through
every loader that reads configuration, and on every configuration file the repository ships."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.kernel.config import parse_systems
from gateway.kernel.yamlfile import load_yaml, load_yaml_document, read_yaml
from gateway.mapping.mapper import Mapper

REPO = Path(__file__).resolve().parents[1]

MAPPING = """\
system: jn_zjj
version: "2"
code_tables:
  result: {01: issued, 02: not_permitted}
fields:
  case_no: bjbh
  result: {path: bjjg, code: result}
  result_reason: bjyy
"""


def test_unquoted_codes_keep_their_leading_zero() -> None:
    # safe_load read 01 as the number 1: every record's '01' was "not in code table"
    assert load_yaml("{01: issued, 02: not_permitted}", where="t.yaml") == {"01": "issued", "02": "not_permitted"}
    mapper = Mapper.from_text(MAPPING, where="jn_zjj.yaml")
    assert mapper.map({"bjbh": "B1", "bjjg": "01"}) == ({"case_no": "B1", "result": "issued", "result_reason": None},
                                                         [])
    assert mapper.map({"bjbh": "B2", "bjjg": "02"})[0]["result"] == "not_permitted"


def test_keys_are_the_text_written_never_a_number_or_a_boolean() -> None:
    # safe_load: {1: 'g', 7: 'b', '08': 'c'} — 01 and 07 as numbers, 08 (no octal) as text, yes and on as True
    assert load_yaml("{01: a, 07: b, 08: c, yes: f, on: g}", where="t.yaml") == {
        "01": "a", "07": "b", "08": "c", "yes": "f", "on": "g"}
    assert load_yaml("{null: a, ~: b, 1.0: c, 2024-01-01: d, 1:30: e, 0x1F: f}", where="t.yaml") == {
        "null": "a", "~": "b", "1.0": "c", "2024-01-01": "d", "1:30": "e", "0x1F": "f"}


def test_values_keep_their_yaml_types() -> None:
    data = load_yaml("a: {required: true, size: 100, ratio: 0.5, none: null, day: 2026-10-01, word: yes, code: '01'}",
                     where="t.yaml")
    assert data == {"a": {"required": True, "size": 100, "ratio": 0.5, "none": None,
                          "day": datetime.date(2026, 10, 1), "word": True, "code": "01"}}


def test_a_key_written_twice_is_an_error_naming_file_line_and_key() -> None:
    text = MAPPING.replace("  result_reason: bjyy\n", "  result_reason: bjyy\n  result: {path: bjjg}\n")
    with pytest.raises(ConfigError) as caught:
        Mapper.from_text(text, where="mappings/jn_zjj.yaml")
    message = str(caught.value)
    assert message.startswith("mappings/jn_zjj.yaml: line 9: key 'result' under fields is written twice")
    assert "first at line 7" in message


@pytest.mark.parametrize("text, line, key", [
    ("a: 1\nb: 2\na: 3\n", 3, "'a' is"),
    ("x: {k: 1, 'k': 2}\n", 1, "'k' under x"),
    ("x:\n  - {k: 1}\n  - {k: 1, k: 2}\n", 3, "'k' under x.1"),
    ("code_tables:\n  t: {01: a, \"01\": b}\n", 2, "'01' under code_tables.t"),
])
def test_duplicates_are_found_at_any_depth(text: str, line: int, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^f\.yaml: line {line}: key {key}"):
        load_yaml(text, where="f.yaml")


def test_merge_keys_still_work_and_the_mapping_own_keys_win() -> None:
    text = "base: &b {size: 7, start: 1}\npaging:\n  <<: *b\n  size: 50\n"
    assert load_yaml(text, where="t.yaml")["paging"] == {"size": 50, "start": 1}


def test_syntax_errors_name_file_line_and_column() -> None:
    with pytest.raises(ConfigError, match=r"^m\.yaml: not valid YAML at line 3, column 4"):
        load_yaml("fields:\n  a: {path: x\n  b: y\n", where="m.yaml")


def test_lines_of_keys_are_known() -> None:
    doc = load_yaml_document(MAPPING, where="m.yaml")
    assert doc.line("fields", "result") == 7 and doc.at("code_tables", "result") == "m.yaml: line 4"
    assert doc.at("nowhere") == "m.yaml"


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: cannot read it"):
        read_yaml(tmp_path / "nope.yaml")


def test_the_systems_file_and_connector_configs_use_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^sys\.yaml: line 4: key 'a' under systems is written twice"):
        parse_systems("systems:\n  a: {connector: rest, mapping: m.yaml}\n  b: {connector: rest, mapping: m.yaml}\n"
                      "  a: {connector: soap, mapping: m.yaml}\n", base_dir=tmp_path, where="sys.yaml")
    (tmp_path / "c.yaml").write_text("kind: rest\nstreams:\n  cases: {path: /a}\n  cases: {path: /b}\n",
                                     encoding="utf-8")
    system = parse_systems("systems:\n  a: {connector: rest, mapping: m.yaml, connector_config: c.yaml}\n",
                           base_dir=tmp_path).get("a")
    with pytest.raises(ConfigError, match=r"c\.yaml: line 4: key 'cases' under streams is written twice"):
        system.load_connector_config()


def test_every_loader_of_configuration_refuses_a_duplicate_key(tmp_path: Path) -> None:
    from gateway.catalogue.settings import parse_catalogues
    from gateway.citizen.settings import parse_citizen
    from gateway.ops.deadlines.calendar import WorkCalendar
    from gateway.process.bundle_spec import BundleCatalogue
    from gateway.process.catalogue import TongbanCatalogue
    from gateway.sharing.settings import parse_gateway_settings

    twice = "a: 1\na: 2\n"
    loaders = [
        lambda: parse_catalogues(twice, base_dir=tmp_path, where="x.yaml"),
        lambda: parse_citizen(twice, where="x.yaml"),
        lambda: WorkCalendar.from_text(twice, where="x.yaml"),
        lambda: BundleCatalogue.from_text(twice, where="x.yaml"),
        lambda: TongbanCatalogue.from_text(twice, where="x.yaml"),
        lambda: parse_gateway_settings(twice, base_dir=tmp_path, where="x.yaml"),
    ]
    for load in loaders:
        with pytest.raises(ConfigError, match=r"^x\.yaml: line 2: key 'a' is written twice"):
            load()
    (tmp_path / "codes.yaml").write_text("A1: {dept: x}\nA1: {dept: y}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codes\.yaml: line 2: key 'A1' is written twice"):
        Mapper.from_text('system: t\nversion: "1"\nlookups:\n  d: {file: codes.yaml}\nfields:\n  a: x\n',
                         where="t.yaml", base_dir=tmp_path)


SHIPPED = sorted(p for folder in ("config", "mappings", "tests/foreign") for p in (REPO / folder).rglob("*.y*ml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_configuration_file_loads(path: Path) -> None:
    assert read_yaml(path) is not None


def test_the_shipped_configuration_loads_whole() -> None:
    from gateway.catalogue.settings import load_catalogues
    from gateway.citizen.settings import load_citizen
    from gateway.kernel.config import load_systems
    from gateway.ops.deadlines.calendar import WorkCalendar
    from gateway.process.bundle_spec import BundleCatalogue
    from gateway.process.catalogue import TongbanCatalogue
    from gateway.sharing.settings import load_gateway_settings

    systems = load_systems(REPO / "config" / "systems.yaml")
    catalogues = load_catalogues(REPO / "config" / "catalogues.yaml")
    issuers = load_gateway_settings(REPO / "config" / "gateway.yaml").issuers
    for entry in [*systems.systems.values(), *catalogues.values(), *issuers.values()]:
        assert entry.load_connector_config(), entry.name
        Mapper.from_file(entry.mapping_path)
    for path in sorted((REPO / "tests" / "foreign" / "mappings").glob("*.yaml")):
        Mapper.from_file(path)
    load_citizen(REPO / "config" / "citizen.yaml")
    WorkCalendar.load(REPO / "config" / "calendar.yaml")
    BundleCatalogue.load(REPO / "config" / "bundles.yaml")
    TongbanCatalogue.load(REPO / "config" / "tongban_catalogue.yaml")
