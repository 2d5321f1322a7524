"""A mapping skeleton's placeholder (``case_no: CHOOSE_CASE_NO_FIELD``) is refused when the mapping is loaded,
naming its line: read as a source path, it loaded, passed every check, and the first sync rejected every record
(``type.str`` on ``{"CHOOSE_CASE_NO_FIELD": null}``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper


@pytest.mark.parametrize("field", [
    "case_no: CHOOSE_CASE_NO_FIELD",
    "case_no: {path: CHOOSE_CASE_NO_FIELD, normalize: [strip]}",
    "case_no: {concat: [region, CHOOSE_SERIAL], sep: '-'}",
])
def test_a_placeholder_where_a_source_path_belongs_is_refused_naming_its_line(tmp_path: Path, field: str) -> None:
    path = tmp_path / "zj_xihu.yaml"
    path.write_text(f"system: zj_xihu\nversion: '1'\nfields:\n  item_code: sxbm\n  {field}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        Mapper.from_file(path)
    said = str(error.value)
    assert f"{path}: line 5" in said and "case_no" in said and "placeholder" in said, said
    assert "# Source record fields:" in said


def test_a_field_of_the_source_named_like_a_word_is_no_placeholder() -> None:
    mapper = Mapper.from_text("system: t\nversion: '1'\nfields:\n  case_no: CHOOSEN_NO\n", where="t.yaml")
    assert mapper.map({"CHOOSEN_NO": "A-1"}) == ({"case_no": "A-1"}, [])
