"""Comparison keys for the eight elements: what must match across levels, with the typing noise taken out.

Two clerks write the same item differently: full-width digits and brackets (``（新办）`` / ``(新办)``), stray
spaces and ideographic spaces, ``，`` for ``、``, a trailing ``。``, materials in another order. None of that is a
difference. A changed word, an extra material, another article number, another unit, another amount or a
reversed comparison is. So a key is the text after Unicode NFKC (full width → half width) and case folding,
with whitespace taken out everywhere and punctuation taken out where it is noise; letters, digits and
ideographs stay exactly as written. What carries meaning stays, in one form each:

- numbers with their decimal points: ``1.5元`` is not ``15元`` (a ``.`` between digits is kept; elsewhere it is
  punctuation);
- comparison signs: ``<`` ``>`` ``≤`` ``≥`` (``＜`` ``‹`` → ``<``, ``≦`` ``⩽`` ``<=`` → ``≤`` …). ``<`` and ``>`` are
  comparison signs only right before a number; anywhere else they are brackets (``<条例>`` is ``《条例》``);
- ranges: a dash or tilde before a number (``-–—―−～~〜``), or ``至``/``到`` between two numbers, is one range mark
  ``~``: ``3～5个工作日`` = ``3-5个工作日`` = ``3至5个工作日``, none of them ``35个工作日``;
- ``%`` ``‰`` ``‱`` ``#`` ``&`` ``@``, currency, and other symbols (``+`` ``×`` ``=`` ``°`` …);
- where dropped punctuation stood between two numbers (or a number and one of the marks above), a boundary
  ``,``: ``第2、3条`` and ``第2，3条`` are the same, neither is ``第23条``. Chinese numerals count as numbers here
  (``第十、二条`` is not ``第十二条``). Whitespace never separates: ``1 8`` is a stray space in ``18``;
- integers in Chinese numerals, read as the time limits read them, in Arabic digits: ``第十二条`` = ``第12条``,
  ``一份`` = ``1份`` (a numeral that parser cannot read, ``一万``, stays as written).

Invisible characters are no difference: controls, format characters (zero-width spaces and joiners, direction
marks) and variation selectors (``申请书\ufe0f`` = ``申请书``). In a field where the harvest put U+FFFD for a
character no store can hold (flagged ``text.unstorable``), the U+FFFD is no difference either: flagged once, not a
second time as ``element_differs`` (:func:`element_key`). A U+FFFD the source itself sent is compared.

Lists (服务对象, materials) are compared as sets of such keys, a material without the list number a level puts
before it (``1、申请书``, ``（二）``, ``①``: :func:`material_key`; ``1 申请表`` when the whole list counts so:
:func:`material_keys`); 受理条件 without the number before
each clause (``1、年满18周岁；2、…``: :func:`clauses_key`); a 服务对象 list the catalogue wrote as text may also
differ only in where whitespace split it (``农民专业 合作社`` read as two items), which is no difference either
(:func:`same_element`). Time limits compare by days and unit, except that any zero-day limit (即办, 当场, ``0日``,
``0个工作日``) is one value.

A number with a thousands separator (``1,000元``) therefore differs from ``1000元``: a ``,`` between digits
may as well separate two numbers, and a false finding costs a reader a glance where a missed one costs a fee.

    >>> text_key("《社会团体登记管理条例》第１２条。") == text_key("<社会团体登记管理条例>第12条")
    True
    >>> text_key("申请书原件") == text_key("申请书复印件")
    False
    >>> text_key("每件收费1.5元") == text_key("每件收费15元"), text_key("面积>100平方米") == text_key("面积＜100平方米")
    (False, False)
    >>> text_key("3～5个工作日"), text_key("第2、3条"), text_key("年满１８周岁 。"), text_key("第十二条")
    ('3~5个工作日', '第2,3条', '年满18周岁', '第12条')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from .entry import _NUMBER, _VALUES, CatalogueEntry, TimeLimit, _number

ELEMENTS: tuple[str, ...] = ("name", "item_type", "legal_basis", "conditions", "service_object", "materials",
                             "legal_limit", "fee")
"""The eight elements (八统一) this audit compares, after DOMAIN.md ("one item, the same elements at every
level"): 事项名称, 事项类型, 设定依据, 受理条件, 服务对象, 申请材料, 法定时限, 收费. No single national list of the
eight was found; this is Tongban's reading. Promised limits, channels and visits are *not* among them: a level
may promise faster or ask fewer visits than the law (that is what 提速 means)."""

ELEMENT_LABELS = {"name": "事项名称", "item_type": "事项类型", "legal_basis": "设定依据", "conditions": "受理条件",
                  "service_object": "服务对象", "materials": "申请材料", "legal_limit": "法定时限", "fee": "收费",
                  "promised_limit": "承诺时限", "departments": "实施主体", "cases": "办件", "service_objects": "服务对象",
                  "fee_basis": "收费依据", "visits": "到现场次数", "channels": "办理渠道", "tongban": "通办范围"}

_NUMERALS = "〇零一二三四五六七八九十百千万亿两壹贰叁肆伍陆柒捌玖拾佰仟"
"""Chinese numerals: like digits, two of them must not run together when the punctuation between them goes."""
_SIGNS = str.maketrans({"‹": "<", "›": ">", "≦": "≤", "⩽": "≤", "≧": "≥", "⩾": "≥"})
_DASHES = "-‐‑‒–—―−~〜"  # after NFKC (～ is ~, － is -, ＜ is <)
_TOKEN = re.compile(
    r"(?P<num>[0-9]+(?:\.[0-9]+)*)"  # a number with its decimal points
    rf"|(?P<cn>[{_NUMERALS}]+)"
    r"|(?P<cmp>[<>]=|[≤≥]|[<>](?=[0-9]))"  # < and > only before a number: anywhere else they are brackets
    rf"|(?P<dash>[{re.escape(_DASHES)}]+(?=[0-9{_NUMERALS}]))"
    rf"|(?P<to>[至到](?=[0-9{_NUMERALS}]))"
    r"|(?P<ch>.)", re.DOTALL)
_NUMBER_CHARS = frozenset("0123456789" + _NUMERALS)
_NUMERIC = _NUMBER_CHARS | frozenset("<>≤≥~%‰‱至到")
"""Characters that would read differently if what stood between them went: a boundary is kept there."""
_KEPT_PUNCTUATION = frozenset("%‰‱#&@")
_DROPPED = frozenset("<>|^") | frozenset(_DASHES)
"""Symbols that are noise where no rule above kept them: brackets typed as maths signs, list bars, stray dashes."""
_BOUNDARY = ","
_INVISIBLE = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), *range(0x180B, 0x1810),
                                        0x034F))
"""Invisible marks that are not format characters (category Mn): variation selectors (``申请书\ufe0f``), the
Mongolian free variation selectors and the combining grapheme joiner. Zero-width spaces, joiners and direction
marks are format characters (Cf) and go with the controls."""
_RUN = re.compile(rf"[{_NUMERALS}]+")
_INTEGER = re.compile(_NUMBER)
_GLUE = frozenset("0123456789.")
"""A Chinese integer as the time limits read it (:mod:`.entry`): ``十二``, ``一百零五``, ``两千``."""


_DIGITS = frozenset("〇零一二三四五六七八九")


def _digit_by_digit(run: str) -> bool:
    """A number written digit by digit, as years are (``二〇〇三``, ``二零零三``, ``一九九八``): three digits or more,
    no 十/百/千 (two, ``一二``, may be "one or two")."""
    return len(run) >= 3 and set(run) <= _DIGITS


def _arabic(text: str) -> str:
    """Each run of Chinese numerals that reads as an integer (the time limits' parser) in Arabic digits:
    ``第十二条`` → ``第12条``, ``一份`` → ``1份``, and a year written digit by digit (``二〇〇三年`` → ``2003年``). A
    run it cannot read (``一万``, ``十、二`` apart) stays as written.
    A converted number next to a digit or a ``.`` keeps a boundary (``十2`` is not ``102``, ``十.五`` not ``10.5``)."""
    def convert(match: re.Match[str]) -> str:
        run = match.group()
        if _INTEGER.fullmatch(run) is not None:
            number = str(_number(run))
        elif _digit_by_digit(run):
            number = "".join(str(_VALUES[ch]) for ch in run)
        else:
            return run
        before, after = text[match.start() - 1:match.start()], text[match.end():match.end() + 1]
        return (("、" if before and before in _GLUE else "") + number
                + ("、" if after and after in _GLUE else ""))
    return _RUN.sub(convert, text)


_NOISE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs"})
"""Spaces, controls, format characters (zero-width, BOM) and lone surrogates: never what a text says. Private-use
characters (Co) are not among them: older systems keep rare characters of names there (``刘\ue863``), and two of
them are two characters."""


def text_key(value: str | None) -> str:
    """The text with width, spacing, punctuation and case differences removed, its meaning kept (see the module
    docstring); ``""`` for nothing."""
    if not value:
        return ""
    folded = unicodedata.normalize("NFKC", value).casefold().translate(_SIGNS)
    text = _arabic("".join(ch for ch in folded if unicodedata.category(ch) not in _NOISE_CATEGORIES
                           and ch not in _INVISIBLE))
    out: list[str] = []
    gap = False  # punctuation dropped since the last character kept

    def keep(piece: str) -> None:
        nonlocal gap
        if gap and out and out[-1][-1] in _NUMERIC and piece[0] in _NUMERIC:
            out.append(_BOUNDARY)
        out.append(piece)
        gap = False

    for match in _TOKEN.finditer(text):
        kind, piece = match.lastgroup, match.group()
        after_number = not gap and bool(out) and out[-1][-1] in _NUMBER_CHARS
        if kind in ("num", "cn"):
            keep(piece)
        elif kind == "cmp":
            keep({"<=": "≤", ">=": "≥"}.get(piece, piece))
        elif kind == "dash" and (after_number or text[match.end()] in "0123456789"):
            keep("~")  # before a Chinese numeral only right after a number: ——一次性告知 is a dash
        elif kind == "to":
            keep("~" if after_number else piece)
        elif kind == "dash" or piece in _DROPPED or (
                unicodedata.category(piece)[0] == "P" and piece not in _KEPT_PUNCTUATION) or (
                unicodedata.category(piece) == "Sk"):
            gap = True
        else:
            keep(piece)
    return "".join(out)


def set_key(values: Iterable[str], key: Callable[[str], str] = text_key) -> frozenset[str]:
    """A list compared as a set of text keys (``key``: :func:`text_key`, or :func:`material_key` for materials;
    order and duplicates do not matter)."""
    return frozenset(k for k in (key(v) for v in values) if k)


_CN_DIGIT = "[一二三四五六七八九十]"
_CN_ORDINAL = _CN_DIGIT + "{1,3}"
_MARK_NUMBER = (
    rf"(?:[(（]\s*(?:\d{{1,3}}|{_CN_ORDINAL})\s*[)）]"      # (1) （一）
    rf"|(?:\d{{1,3}}|{_CN_ORDINAL})\s*(?:[、)）]|[.．:：])(?!\s*(?:\d|{_CN_DIGIT}))"  # 1、 1) 1. 一、 — not
    # 1.5寸, 1:500, 一、二类 (class I and II), 1、2寸: a numeral right after the mark makes it part of the name
    r"|[\u2460-\u2473\u2776-\u277f\u2474-\u249b])")          # ① ❶ ⑴ ⒈
_LIST_NUMBER = re.compile(rf"^\s*{_MARK_NUMBER}\s*")
"""The number a catalogue puts before each material of a numbered list (``1、申请书``, ``（二）身份证``, ``①``)."""
_SPACED_NUMBER = re.compile(r"^\s*(\d{1,3})\s+(?=\S)")
"""A number and a space before a material's name: a list number only when every material of the list has one and
they count 1, 2, 3… (``1 申请表``, ``2 身份证``); alone it may measure the name (``24 小时内核酸检测阴性证明``,
``2 英寸照片``), which a word list cannot tell (:func:`material_keys`)."""
_CLAUSE_NUMBER = re.compile(
    rf"(?:^|(?<=[；;。:：\n]))\s*{_MARK_NUMBER}\s*"
    rf"|(?<=[\s，,])(?:\d{{1,3}}|{_CN_ORDINAL})\s*[、.．](?!\s*(?:\d|{_CN_DIGIT}))\s*")
"""The number before each clause of a numbered text (受理条件: ``1、年满18周岁；2、具有…``, ``条件：（一）…``,
``1.年满18周岁 2.具有…``). After a space or a comma only ``2、`` and ``2.`` count: a bracketed number there is part
of the clause (``不少于（3）人``, ``，（一）类``)."""


def material_key(name: str) -> str:
    """A material's name as compared: its list number dropped — one level numbers its list (``1、申请书``,
    ``2、身份证原件``) and another does not, and every material differed (a false 申请材料 finding) — its text
    then as :func:`text_key` reads it. A number that is part of the name stays (``2寸照片``, ``1.5寸``,
    ``1:500地形图``, ``一、二类医疗器械``: class I and II — a numeral right after the mark keeps it all)."""
    return text_key(_LIST_NUMBER.sub("", name, count=1))


def material_keys(names: Iterable[str]) -> frozenset[str]:
    """A list of materials as compared: each as :func:`material_key` reads it, and, when every name starts with
    a number and a space and the numbers count 1, 2, 3… (``1 申请表``, ``2 身份证``), without those numbers."""
    names = list(names)
    numbers = [_SPACED_NUMBER.match(name) for name in names]
    if len(names) >= 2 and all(numbers) and sorted(int(m.group(1)) for m in numbers if m) == list(
            range(1, len(names) + 1)):
        names = [name[m.end():] for name, m in zip(names, numbers) if m]
    return set_key(names, material_key)


def clauses_key(text: str | None) -> str:
    """A text of numbered clauses as compared (受理条件): each clause's number dropped, for the reason
    :func:`material_key` drops a material's — one level numbers the clauses and another does not."""
    return text_key(_CLAUSE_NUMBER.sub("", text)) if text else ""


def _limit(limit: TimeLimit | None) -> tuple[int, str] | None:
    """A limit as compared: zero days is one value whatever its unit (即办, 当场, 0日 and 0个工作日 all say "at
    once")."""
    if limit is None:
        return None
    return (0, "") if limit.days == 0 else (limit.days, limit.unit)


def joined_key(items: Iterable[str]) -> str:
    """A list as one text key, its items in order with nothing between them: equal for two lists that differ
    only in where whitespace (or a separator) split the same words (``农民专业合作社`` and ``农民专业 合作社``, the
    second read as two items). A list written as text is split on its separators, else on whitespace, so a stray
    space splits an item: compared on this key too, whitespace alone never makes a finding."""
    return text_key("".join(items))


_FIELDS = {"name": "name", "legal_basis": "legal_basis", "conditions": "conditions",
           "service_object": "service_objects", "materials": "materials", "fee": "fee_basis"}
"""The entry field each text element is read from (the field a quality flag names)."""


def element_key(entry: CatalogueEntry, element: str) -> Any:
    """The comparable value of one of :data:`ELEMENTS` for ``entry``; in a field where the harvest replaced a
    character no store can hold, without the U+FFFD it put there (flagged ``text.unstorable`` once already)."""
    if entry.quality and _FIELDS.get(element) in entry.replaced():
        def t(text: str | None) -> str | None:
            return text.replace("\ufffd", "") if text else text
    else:
        def t(text: str | None) -> str | None:
            return text
    if element == "name":
        return text_key(t(entry.name))
    if element == "item_type":
        return entry.item_type.value
    if element == "legal_basis":
        return text_key(t(entry.legal_basis))
    if element == "conditions":
        return clauses_key(t(entry.conditions))
    if element == "service_object":
        return set_key(t(v) or "" for v in entry.service_objects)
    if element == "materials":
        return material_keys(t(m.name) or "" for m in entry.materials)
    if element == "legal_limit":
        return _limit(entry.legal_limit)
    if element == "fee":
        return (entry.fee, text_key(t(entry.fee_basis)) if entry.fee else "")
    raise ValueError(f"unknown element {element!r}; expected one of {ELEMENTS}")


def element_text(entry: CatalogueEntry, element: str) -> str:
    """The element as the catalogue wrote it, for people reading a finding."""
    if element == "name":
        return entry.name
    if element == "item_type":
        return f"{entry.item_type.value} {entry.item_type.label}"
    if element == "legal_basis":
        return entry.legal_basis or ""
    if element == "conditions":
        return entry.conditions or ""
    if element == "service_object":
        return "、".join(entry.service_objects)
    if element == "materials":
        return "、".join(sorted(m.name for m in entry.materials))
    if element == "legal_limit":
        return str(entry.legal_limit) if entry.legal_limit else ""
    if element == "promised_limit":
        return str(entry.promised_limit) if entry.promised_limit else ""
    if element == "fee":
        return ("收费" + (f"（{entry.fee_basis}）" if entry.fee_basis else "")) if entry.fee else "不收费"
    if element == "departments":
        return "、".join(f"{d.name}({d.code})" if d.code else d.name for d in entry.departments)
    raise ValueError(f"unknown element {element!r}")


def same_element(a: CatalogueEntry, b: CatalogueEntry, element: str) -> bool:
    """Whether two entries say the same for ``element``: equal keys (:func:`element_key`), or, for a list the
    catalogue writes as text (服务对象), the same words split differently (:func:`joined_key`)."""
    if element_key(a, element) == element_key(b, element):
        return True
    return element == "service_object" and joined_key(a.service_objects) == joined_key(b.service_objects)


__all__ = ["ELEMENTS", "ELEMENT_LABELS", "element_key", "element_text", "joined_key", "material_key", "same_element",
           "set_key", "text_key"]
