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
