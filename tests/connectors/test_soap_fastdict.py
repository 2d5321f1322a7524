"""The compiled SOAP tree walker (connectors/soap/_fastdict.pyx) gives exactly what the pure-Python reference
(``element_to_dict_py``) gives — same values, key order and types, same exception where Python raises — on the
benchmark answer, hand-written edge cases and a fuzz of random trees; and it is the one in use.

Built by ``pip install -e .`` (setup.py). Where no C compiler is available, set TONGBAN_ALLOW_PURE_PYTHON=1:
these tests then skip, saying so, and the connector runs on the reference walker.
"""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from connectors.soap import decode
from connectors.soap.decode import EMPTY, Shape, element_to_dict_py, record_elements, soap_body
from connectors.soap.hardening import parse_document
from connectors.soap.xmltext import decode_xml

REPO = Path(__file__).resolve().parents[2]

if decode._COMPILED is None:  # noqa: SLF001
    if os.environ.get("TONGBAN_ALLOW_PURE_PYTHON") == "1":
        pytest.skip(f"compiled walker not in use: {decode.WALKER} (TONGBAN_ALLOW_PURE_PYTHON=1)",
                    allow_module_level=True)
    raise AssertionError(f"the SOAP fast path runs on the pure-Python walker: {decode.WALKER}. Reinstall with a C "
                         f"compiler (pip install -e .), or set TONGBAN_ALLOW_PURE_PYTHON=1 to accept it")

from connectors.soap import _fastdict as fastdict  # noqa: E402


def test_the_compiled_walker_is_the_one_in_use() -> None:
    assert decode.element_to_dict is fastdict.element_to_dict
    assert fastdict.BUILT_WITH_LXML == etree.__version__
    assert decode.WALKER.startswith("compiled")


XSI = "http://www.w3.org/2001/XMLSchema-instance"
BENCH_SHAPE = Shape(frozenset(), {"HJLIST": Shape(frozenset({"HJ"}), {})})
PATH = "GetBusinessListResponse.GetBusinessListResult.RECORDS.YWXX"


def outcome(fn: Any, element: etree._Element, shape: Shape) -> tuple[str, Any]:
    try:
        return "ok", fn(element, shape)
    except Exception as exc:  # noqa: BLE001 - compared below
        return "raised", type(exc)


def same(element: etree._Element, shape: Shape = EMPTY, label: str = "") -> Any:
    """Both functions give the identical result (or raise the same exception type) on ``element``."""
    py = outcome(element_to_dict_py, element, shape)
    cy = outcome(fastdict.element_to_dict, element, shape)
    assert py[0] == cy[0] and py[1] == cy[1] and repr(py[1]) == repr(cy[1]), (
        f"{label}: differ\n  xml:    {etree.tostring(element, encoding='unicode')[:500]}\n"
        f"  shape:  {shape}\n  python: {py!r}\n  cython: {cy!r}"
    )
    return py[1]


def parse(xml: str) -> etree._Element:
    return parse_document(xml.encode("utf-8"), where="test")


def parse_keep_cdata(xml: str) -> etree._Element:
    """CDATA kept as its own node: a text run of several nodes."""
    return etree.fromstring(xml.encode("utf-8"), etree.XMLParser(strip_cdata=False, resolve_entities=False))


# ---- the benchmark answer -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def records() -> list[etree._Element]:
    spec = importlib.util.spec_from_file_location("bench_soap_decode", REPO / "bench" / "soap_decode.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = bench.answer(2000, "gb18030")
    decoded = decode_xml(data, "text/xml; charset=gb18030")
    body = soap_body(parse_document(decoded.data, where="x"), where="x")
    return record_elements(body, PATH, where="x")


def test_benchmark_answer(records: list[etree._Element]) -> None:
    assert len(records) == 2000
    for shape in (BENCH_SHAPE, EMPTY):
        for record in records:
            same(record, shape, "bench record")
    out = fastdict.element_to_dict(records[0], BENCH_SHAPE)
    assert isinstance(out["HJLIST"]["HJ"], list), out
    # keys are interned: the same local name gives the same str object across records
    a, b = (fastdict.element_to_dict(r, BENCH_SHAPE) for r in records[:2])
    assert all(ka is kb for ka, kb in zip(a, b)), "keys not interned"


# ---- hand-written edge cases ----------------------------------------------------------------------------

NS = f'xmlns:xsi="{XSI}" xmlns:p="urn:p" xmlns="urn:default"'
EDGE_CASES: list[tuple[str, str, Shape]] = [
    ("nil / empty / whitespace-only",
     f'<r {NS}><a xsi:nil="true"/><b xsi:nil="1"/><c xsi:nil="false"/><d/><e></e><f> </f><g>\n\t </g>'
     f'<h xsi:nil="TRUE"/><i xsi:nil=" true"/><j nil="true"/><k xsi:nil="true">text</k><l xsi:nil="true"> </l></r>',
     EMPTY),
    ("pretty-printed nested containers",
     f"<r {NS}>\n  <A>\n    <B>\n      <C>1</C>\n      <C>2</C>\n    </B>\n    <D>\r\n<E/></D>\n  </A>\n"
     f"  <F>\t<G>x</G></F>\n  <H> lead</H>\n</r>",
     Shape(frozenset(), {"A": Shape(frozenset({"C"}), {})})),
    ("mixed content",
     f"<r {NS}><a>text<b>1</b>tail</a><c> text<b>1</b>tail</c><d><b>1</b>tail</d><e>t<b/></e><f>\n<b/>t</f></r>",
     EMPTY),
    ("mixed content, declared complex",
     f"<r {NS}><a>text<b>1</b>tail</a><c>text</c><d xsi:nil='1'>text</d><e> </e></r>",
     Shape(frozenset(), {"a": Shape(frozenset({"b", "z"}), {}), "c": Shape(frozenset({"q"})),
                          "d": Shape(), "e": Shape(frozenset({"y"}))})),
    ("CDATA",
     f"<r {NS}><a><![CDATA[<x>&amp;]]></a><b>pre<![CDATA[ mid ]]>post</b><c><![CDATA[]]></c>"
     f"<d><![CDATA[ ]]><e>1</e></d><f><![CDATA[]]>x</f><g><![CDATA[]]> <h/></g></r>",
     EMPTY),
    ("namespaced / prefixed children",
     f'<r {NS}><p:a>1</p:a><a xmlns="urn:other">2</a><b>3</b><q:b xmlns:q="urn:q">4</q:b><p:c><p:d>5</p:d></p:c>'
     f'<noNs xmlns="">6</noNs></r>',
     Shape(frozenset({"c"}), {})),
    ("repeated undeclared names",
     f"<r {NS}><a>1</a><b>x</b><a>2</a><a/><a xsi:nil='true'/><a><z>3</z></a><c>only</c><d/><d/></r>",
     EMPTY),
    ("declared lists absent / once / many",
     f"<r {NS}><once>1</once><many>1</many><many/><many xsi:nil='true'/><many><x>1</x></many><other>o</other></r>",
     Shape(frozenset({"absent", "once", "many", "also_absent"}), {})),
    ("declared complex: empty / nil / with text / with children",
     f"<r {NS}><empty/><nil xsi:nil='true'/><nil1 xsi:nil='1'/><text>hello</text><kids><L>1</L><x>y</x></kids>"
     f"<ws>\n  <L>1</L>\n  <L>2</L>\n</ws><wsonly>   </wsonly></r>",
     Shape(frozenset(), {n: Shape(frozenset({"L", "M"}), {}) for n in
                         ("empty", "nil", "nil1", "text", "kids", "ws", "wsonly")})),
    ("declared complex that is also a list",
     f"<r {NS}><item/><item><L>1</L></item><item xsi:nil='true'/></r>",
     Shape(frozenset({"item"}), {"item": Shape(frozenset({"L"}), {})})),
    ("non-BMP and other non-ASCII",
     f"<r {NS}><a>𠮷</a><b>&#x20BB7;野家</b><c>é&#233;</c><名前>値</名前><d>\u3000全角空白</d><e>😀<f/></e></r>",
     EMPTY),
    ("entities and character references",
     f"<r {NS}><a>&amp;&lt;&gt;&quot;&apos;</a><b>&#32;lead</b><c>&#10;<x>1</x></c><d>&#9;</d><e>&#13;<y/></e>"
     f"<f>a&amp;b</f><g>&amp;<z/></g></r>",
     EMPTY),
    ("deep nesting",
     f"<r {NS}>" + "<n>" * 60 + "leaf" + "</n>" * 60 + "</r>",
     EMPTY),
    ("no children at all", f"<r {NS}/>", Shape(frozenset({"x"}), {})),
]


def test_edge_cases() -> None:
    for label, xml, shape in EDGE_CASES:
        for parser in (parse, parse_keep_cdata):
            root = parser(xml)
            same(root, shape, label)
            for element in root.iter():  # every sub-element too, with and without the shape
                same(element, EMPTY, label)
                same(element, shape, label)
    # trees built through the API: several adjacent text nodes, an empty text node (Python: IndexError)
    root = etree.Element("r")
    a = etree.SubElement(root, "a")
    a.text = ""
    same(root, EMPTY, "empty text node")  # both raise IndexError
    same(root, Shape(frozenset(), {"a": Shape()}), "empty text node, declared complex")
    b = etree.SubElement(etree.Element("r"), "b")
    b.text = ""
    etree.SubElement(b, "c").text = "1"
    same(b.getparent(), EMPTY, "empty text node with a child")
    # comments / PIs are never produced by the hardened parser, but must not crash the compiled walk
    tree = etree.fromstring("<r><!--c--><a>1</a><?pi x?><b>2</b></r>")
    assert fastdict.element_to_dict(tree) == {"a": "1", "b": "2"}
    # many distinct names (key cache slots replaced, the interning bound passed), in fresh documents
    rng = random.Random(7)
    for k in range(300):
        names = [f"n{rng.randrange(30000)}" for _ in range(60)]
        root = parse("<r>" + "".join(f"<{n}>{k}</{n}>" for n in names) + "</r>")
        same(root, Shape(frozenset(names[:5]), {}), "many names")
        del root
    # the shape may be any object with .lists / .children; None is the empty shape
    assert fastdict.element_to_dict(parse("<r><a/></r>"), None) == element_to_dict_py(parse("<r><a/></r>"))


# ---- fuzz: random small trees ---------------------------------------------------------------------------

NAMES = ["a", "b", "c", "HJ", "HJLIST", "名"]
PREFIXES = ["", "", "", "p:", "q:"]
TEXTS = ["x", "12", " lead", "\n  ", "\t", "\r\n", "a&amp;b", "&lt;", "&#x20BB7;", "𠮷", "é", "&#32;x", "&#10;",
         "<![CDATA[cd]]>", "<![CDATA[ ]]>", "<![CDATA[]]>", "x<![CDATA[y]]>z", "  <![CDATA[k]]>"]


def random_element(rng: random.Random, depth: int) -> str:
    name = rng.choice(PREFIXES) + rng.choice(NAMES)
    attrs = ""
    roll = rng.random()
    if roll < 0.15:
        attrs = f' xsi:nil="{rng.choice(["true", "1", "false", "0", "TRUE", ""])}"'
    elif roll < 0.2:
        attrs = ' nil="true"'
    elif roll < 0.4:  # attributes read as fields, and those that describe the encoding (never read)
        attrs = "".join(f' {n}="{rng.choice(["1", "", " x ", "名", "a&amp;b", "&#10;"])}"' for n in
                        rng.sample(["id", "p:id", "q:code", "名", "xsi:type", "enc:root", "diffgr:id", "xml:lang"],
                                   rng.randint(1, 3)))
    parts = []
    if rng.random() < 0.5:
        parts.append(rng.choice(TEXTS))
    if depth < 4 and rng.random() < 0.45:
        for _ in range(rng.randint(1, 4)):
            parts.append(random_element(rng, depth + 1))
            if rng.random() < 0.3:
                parts.append(rng.choice(TEXTS))  # tail
    if not parts and rng.random() < 0.5:
        return f"<{name}{attrs}/>"
    return f"<{name}{attrs}>{''.join(parts)}</{name}>"


def random_shape(rng: random.Random, depth: int = 0) -> Shape:
    lists = frozenset(n for n in NAMES if rng.random() < 0.25)
    children = {n: random_shape(rng, depth + 1) for n in NAMES if depth < 3 and rng.random() < 0.25}
    return Shape(lists, children)


def test_fuzz() -> None:
    rng = random.Random(20240601)
    for k in range(2000):
        body = "".join(random_element(rng, 1) for _ in range(rng.randint(0, 6)))
        xml = (f'<r xmlns:xsi="{XSI}" xmlns:p="urn:p" xmlns:q="urn:q" xmlns:enc="http://schemas.xmlsoap.org/soap/'
               f'encoding/" xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1">{body}</r>')
        shape = random_shape(rng) if k % 3 else EMPTY
        for parser in (parse, parse_keep_cdata):
            root = parser(xml)
            same(root, shape, f"fuzz #{k}")
            for element in root.iterdescendants():
                same(element, shape, f"fuzz #{k}")
