"""Encodings: UTF-8, GBK, GB18030 with missing or lying labels; characters outside the BMP through every path,
including surrogate-half references; undecodable bytes reject one record, not the page; nil is not empty."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from soap_testlib import ADDRESS, connector, envelope, page, record

from connectors.soap.xmltext import DAMAGE_MARK, decode_xml

NAME = "𠮷王秀英"  # U+20BB7: outside the BMP, a real surname


@pytest.mark.parametrize(
    ("codec", "declared", "header"),
    [
        ("gbk", "gbk", "utf-8"),  # the header lies
        ("gb18030", "gb18030", None),  # no header
        ("gb18030", "utf-8", "utf-8"),  # both labels lie
        ("utf-8", "gb18030", "gbk"),  # UTF-8 labelled as GB: must not become mojibake
        ("utf-8", None, None),
    ],
)
def test_the_bytes_decide_not_the_labels(codec: str, declared: str | None, header: str | None) -> None:
    text = "王秀英 鲁民证〔2024〕" + ("𠮷" if codec != "gbk" else "")
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    decoded = decode_xml((decl + f"<a>{text}</a>").encode(codec), header)
    assert decoded.damaged == 0
    assert f"<a>{text}</a>" in decoded.data.decode("utf-8")
    assert b'encoding="utf-8"' in decoded.data or not declared


def test_surrogate_half_references_become_one_character_and_a_lone_half_is_damage() -> None:
    decoded = decode_xml(b"<a>&#xD842;&#xDFB7;&#55362;&#57271;|&#xd842;x|&#x4E00;</a>")
    text = decoded.data.decode()
    assert text.count("&#x20BB7;") == 2 and "&#x4E00;" in text
    assert decoded.damaged == 1 and DAMAGE_MARK in text


@responses.activate
def test_a_gbk_page_with_a_lying_header_reads_correctly_and_nil_differs_from_empty(tmp_path: Path) -> None:
    body = page([
        record("SCJG1", NAME, extra="<BJYY xsi:nil=\"true\" /><LXDZ></LXDZ><ZZMC/>"),
        record("SCJG2", "&#xD842;&#xDFB7;庆林"),
    ])
    responses.post(ADDRESS, body=envelope(body, encoding="gb18030").encode("gb18030"),
                   content_type="text/xml; charset=utf-8")
    pages = list(connector(tmp_path).read("cases"))
    first, second = pages[0].records
    assert first.payload["SQRMC"] == NAME and second.payload["SQRMC"] == "𠮷庆林"
    assert first.payload["BJYY"] is None
    assert first.payload["LXDZ"] == "" and first.payload["ZZMC"] == ""
    assert first.payload["HJLIST"] == {"HJ": [{"XH": "1", "HJMC": "受理"}]}  # one step is still a list


@responses.activate
def test_a_record_with_undecodable_bytes_is_rejected_alone_with_the_reason(tmp_path: Path) -> None:
    good = record("SCJG1", NAME)
    bad = record("SCJG2", "李娜", extra="<LXDZ>济南市\udcff历下区</LXDZ>")
    data = envelope(page([good, bad]), encoding="gb18030").encode("gb18030", errors="surrogateescape")
    responses.post(ADDRESS, body=data, content_type="text/xml")
    (only,) = list(connector(tmp_path).read("cases"))
    assert [r.source_id for r in only.records] == ["SCJG1"] and only.records[0].payload["SQRMC"] == NAME
    (reject,) = only.rejects
    assert reject.source_id == "SCJG2"
    assert "LXDZ" in str(reject) and "gb18030" in str(reject)
    assert "<YWLSH>SCJG2</YWLSH>" in reject.raw  # the record's XML is kept for the dead letter


@responses.activate
@pytest.mark.parametrize("stray", ["&#x1;", "&#0;", "&#11;", "\x01", "\ufffe", "&#xFFFF;"])
def test_a_character_xml_does_not_allow_rejects_only_its_record(tmp_path: Path, stray: str) -> None:
    """.NET writes a clerk's stray Ctrl-A as ``&#x1;``; libxml2 refuses any document holding one, so one record's
    typo failed every page it was on, for good."""
    good = record("SCJG1", NAME)
    bad = record("SCJG2", "李娜", extra=f"<LXDZ>济南市{stray}历下区</LXDZ>")
    responses.post(ADDRESS, body=envelope(page([good, bad])).encode("utf-8"), content_type="text/xml; charset=utf-8")
    (only,) = list(connector(tmp_path).read("cases"))
    assert [r.source_id for r in only.records] == ["SCJG1"] and only.records[0].payload["SQRMC"] == NAME
    (reject,) = only.rejects
    assert reject.source_id == "SCJG2" and "LXDZ" in str(reject)
