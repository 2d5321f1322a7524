"""Charset labels as servers write them: one GB family for every reader (connectors and the citizen wing's
clients read the same set), and HZ read by its own codec — it is a 7-bit escape encoding, and read as GB18030 its
``~{…~}`` escapes reached the ledger as text."""

from __future__ import annotations

import pytest

from connectors.common.charsets import normalise_encoding


@pytest.mark.parametrize("label", ["GBK", "gb2312", "GB18030", "cp936", "MS936", "windows-936", "EUC-CN", "x-gbk",
                                   "'gbk'"])
def test_each_gb_label_reads_as_gb18030(label: str) -> None:
    assert normalise_encoding(label) == "gb18030"


def test_hz_reads_with_its_own_codec() -> None:
    encoding = normalise_encoding("HZ-GB-2312")
    assert encoding == "hz"
    assert "民政局".encode("hz").decode(encoding) == "民政局"


@pytest.mark.parametrize(("label", "codec"), [("utf-8", "utf-8"), ("UTF8", "utf-8"), ("latin-1", "iso8859-1"),
                                              ("nonsense", None), ("", None), (None, None)])
def test_other_labels(label: str | None, codec: str | None) -> None:
    assert normalise_encoding(label) == codec


@pytest.mark.parametrize("label", ["chinese", "csiso58gb231280", "iso-ir-58", "gb2312-80", "GB_2312", "csgb2312", "x-euc-cn"])
def test_every_alias_of_gb2312_or_gbk_reads_as_gb18030(label: str) -> None:
    """Python maps some to its strict gb2312 codec, which fails on the GBK characters of real names, and knows
    others (WHATWG's csgb2312, gb_2312, x-euc-cn) not at all."""
    assert normalise_encoding(label) == "gb18030"
    assert "朱镕基 张喆 王堃".encode("gbk").decode(normalise_encoding(label)) == "朱镕基 张喆 王堃"
