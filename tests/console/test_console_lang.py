"""The console's pages say which language each part is in. Review: the page declared itself ``lang="zh-CN"``
while its labels and chrome are English — a screen reader read "Overview", "Dead letters" with a Chinese voice,
and a browser picked Chinese hyphenation and fonts for them. The page is English; the Chinese it writes (a
system's title, a KPI's name, 通办 in the header) is marked Chinese where it is written."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from console_testlib import REPO, logged_in, sqlite_ledger
from sqlalchemy import Engine

from gateway.kernel.config import load_systems

_HAN = re.compile(r"[\u3400-\u9fff]")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Langs(HTMLParser):
    """Each text of a page with the language it is in: the ``lang`` of its nearest element that says one."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.texts: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append((tag, dict(attrs).get("lang")))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if data.strip():
            lang = next((lang for _, lang in reversed(self.stack) if lang is not None), None)
            self.texts.append((data.strip(), lang))


def _langs(page: str) -> list[tuple[str, str | None]]:
    parser = _Langs()
    parser.feed(page)
    return parser.texts


@pytest.fixture
def ledger(tmp_path: Path) -> Engine:
    return sqlite_ledger(tmp_path)


def test_the_page_is_english_and_a_chinese_system_title_is_marked_chinese(tmp_path: Path, ledger: Engine
                                                                          ) -> None:
    page = logged_in(tmp_path, ledger, "viewer").get("/console/").text
    assert re.search(r"<html[^>]*\blang=\"en\"", page), page[:200]

    langs = _langs(page)
    systems = load_systems(REPO / "config" / "systems.yaml").systems.values()
    titles = [s.title for s in systems if _HAN.search(s.title)]
    assert titles, "the systems file names no system in Chinese"
    for title in titles:
        assert (title, "zh-CN") in langs, [t for t in langs if title in t[0]]
    assert ("Systems", "en") in langs and ("Overview", "en") in langs  # the chrome is English
    assert ("办件量", "zh-CN") in langs  # a KPI's name, as the reports write it
    assert ("通办", "zh-CN") in langs  # the header's brand


def test_the_login_page_is_english_too(tmp_path: Path, ledger: Engine) -> None:
    from console_testlib import console_app

    page = console_app(tmp_path, ledger).get("/console/login").text
    assert re.search(r"<html[^>]*\blang=\"en\"", page) and 'lang="zh-CN"><head>' not in page
    assert ("Operator log in", "en") in _langs(page)
