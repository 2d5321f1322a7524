"""XML hardening everywhere XML is parsed: XXE and billion laughs refused without reading a file or expanding
an entity, oversized and too-deep documents refused with bounded memory; broken answers named clearly."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import responses
from soap_testlib import ADDRESS, connector, envelope, page, record

from connectors.soap import UnsafeXmlError, load_wsdl, parse_document
from connectors.soap.hardening import XmlLimits
from gateway.contract.errors import ConfigError, FatalSyncError, RetriableSyncError

LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol9;'
          + b"</soap:Body></soap:Envelope>")


def xxe(path: Path) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY secret SYSTEM "file://{path}">]>'
            f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f"<x>&secret;</x></soap:Body></soap:Envelope>").encode()


@responses.activate
def test_xxe_in_a_response_is_refused_and_the_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    responses.post(ADDRESS, body=xxe(secret), content_type="text/xml")
    with pytest.raises(UnsafeXmlError, match="DTD") as caught:
        list(connector(tmp_path).read("cases"))
    assert "TOP-SECRET" not in str(caught.value)


@responses.activate
def test_billion_laughs_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=LAUGHS, content_type="text/xml")
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeXmlError, match="DTD"):
            list(connector(tmp_path).read("cases"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


@responses.activate
@pytest.mark.parametrize("before", [b"<!--<x>-->", b"<!-- <soap:Envelope> -->", b"<?note <y?>"])
def test_a_dtd_behind_a_comment_is_refused_at_once_not_retried(tmp_path: Path, before: bytes) -> None:
    """A ``<x`` inside a comment or instruction ended the prolog check early: the DTD after it reached the parser,
    whose amplification limit then read as a truncated answer and was retried."""
    responses.post(ADDRESS, body=LAUGHS.replace(b"?><!DOCTYPE", b"?>" + before + b"<!DOCTYPE", 1),
                   content_type="text/xml")
    with pytest.raises(UnsafeXmlError, match="DTD"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 1


def test_the_parser_itself_refuses_amplification_even_without_the_prolog_check() -> None:
    from lxml import etree

    from connectors.soap.hardening import safe_parser

    try:
        root = etree.fromstring(LAUGHS, parser=safe_parser())
    except etree.XMLSyntaxError as exc:  # libxml2's own entity-amplification guard
        assert "amplification" in str(exc)
    else:
        assert len(etree.tostring(root)) < 10_000  # entities left unexpanded


def test_a_wsdl_with_a_dtd_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    wsdl = tmp_path / "evil.wsdl"
    wsdl.write_bytes(xxe(secret).replace(b"soap:Envelope", b"wsdl:definitions"))
    with pytest.raises(UnsafeXmlError, match="DTD"):
        load_wsdl(str(wsdl))


@responses.activate
def test_an_oversized_response_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    huge = envelope(page([record(f"SCJG{i}") for i in range(3000)])).encode()
    responses.post(ADDRESS, body=huge, content_type="text/xml")
    small = connector(tmp_path, limits={"max_bytes": 64 * 1024})
    with pytest.raises(UnsafeXmlError, match="limits.max_bytes"):
        list(small.read("cases"))


def test_too_deep_documents_are_refused() -> None:
    deep = b"<a>" * 300 + b"</a>" * 300
    with pytest.raises(UnsafeXmlError, match="deeper"):
        parse_document(deep, where="t")
    with pytest.raises(UnsafeXmlError, match="deeper than 8"):
        parse_document(b"<a>" * 10 + b"</a>" * 10, where="t", limits=XmlLimits(max_depth=8))


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "content_type", "error", "words"),
    [
        (200, b"", "text/xml", FatalSyncError, "empty body"),
        (200, b"<html><head><title>\xe7\x99\xbb\xe5\xbd\x95</title></head></html>", "text/html; charset=utf-8",
         RetriableSyncError, "HTML page"),  # a proxy's page instead of the service: retried like a 503
        (500, b"<html><head><title>Runtime Error</title></head><body>Server Error in '/' Application.</body></html>",
         "text/html", RetriableSyncError, "Runtime Error"),
        (200, envelope(page([record("SCJG1")])).encode()[:-40], "text/xml", RetriableSyncError, "truncated"),
        (200, b"<notsoap/>", "text/xml", FatalSyncError, "not a SOAP envelope"),
        (404, b"<html><head><title>404 - Not Found</title></head></html>", "text/html", FatalSyncError, "404"),
    ],
)
def test_broken_answers_give_clear_errors(tmp_path: Path, status: int, body: bytes, content_type: str,
                                          error: type[Exception], words: str) -> None:
    responses.post(ADDRESS, body=body, status=status, content_type=content_type)
    with pytest.raises(error, match=words):
        list(connector(tmp_path).read("cases"))


def test_unknown_operations_and_overload_mistakes_are_config_errors(tmp_path: Path) -> None:
    c = connector(tmp_path)
    with pytest.raises(ConfigError, match="no operation 'GetCases'"):
        c.client.operation("GetCases")
