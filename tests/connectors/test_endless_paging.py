"""A read always ends. Sources that page for ever — a next cursor or next link that leads back to a request
already sent, a server that ignores the page parameter and answers the same full page again and again — are
stopped with an error that says what the source did, instead of holding the system's lease and hammering the
source until someone notices. Real HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from hostile_testlib import HostileServer, Reply, rest_connector
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from gateway.contract.errors import FatalSyncError


def _page(ids: list[str], **extra: object) -> bytes:
    return orjson.dumps({"data": [{"id": i} for i in ids], **extra})


def test_a_next_cursor_that_repeats_is_stopped() -> None:
    with HostileServer() as server:
        server.route("/cases", Reply(body=_page(["R1", "R2"], next_cursor="abc")),
                     Reply(body=_page(["R3", "R4"], next_cursor="abc")))  # then "abc" again, for ever
        connector = rest_connector(server.url, stream={"pagination": {"type": "cursor", "size": 2,
                                                                      "size_param": "size"}})
        with pytest.raises(FatalSyncError, match="leads back to a request already sent"):
            list(connector.read("cases"))
        assert server.hits["/cases"] == 2  # the first request and the cursor's; its repeat is never sent


def test_a_next_link_to_itself_is_stopped() -> None:
    with HostileServer() as server:
        link = {"Content-Type": "application/json", "Link": '</cases?page=2>; rel="next"'}
        server.route("/cases", Reply(headers=link, body=_page(["R1"])))
        connector = rest_connector(server.url, stream={"pagination": {"type": "link_header"}})
        with pytest.raises(FatalSyncError, match="leads back to a request already sent"):
            list(connector.read("cases"))
        assert server.hits["/cases"] <= 3


def test_a_server_ignoring_the_page_parameter_is_stopped() -> None:
    with HostileServer() as server:
        server.route("/cases", Reply(body=_page(["R1", "R2"])))  # whatever page is asked for
        connector = rest_connector(server.url, stream={"pagination": {"type": "page_number", "size": 2}})
        with pytest.raises(FatalSyncError, match="only records already read"):
            list(connector.read("cases"))
        assert server.hits["/cases"] <= 6


def test_a_source_that_pages_properly_is_read_to_its_end() -> None:
    with HostileServer() as server:
        server.route("/cases", Reply(body=_page(["R1", "R2"], next_cursor="p2")),
                     Reply(body=_page(["R3", "R4"], next_cursor="p3")), Reply(body=_page(["R5"])))
        connector = rest_connector(server.url, stream={"pagination": {"type": "cursor", "size": 2,
                                                                      "size_param": "size"}})
        pages = list(connector.read("cases"))
        assert [r.source_id for p in pages for r in p.records] == ["R1", "R2", "R3", "R4", "R5"]


def _scroll(first: list[str]) -> Callable[[Seen], Answer]:
    """A scroll-style server: ``first`` on the first request, then empty pages with a fresh token (and a fresh
    next link) for ever."""
    served = itertools.count()

    def answer(request: Seen) -> Answer:
        n = next(served)
        link = f'</cases?after=tok-{n}>; rel="next"'
        return json_answer(_page(first if n == 0 else [], next_cursor=f"tok-{n}"), Link=link)

    return answer


_PAGINATIONS = pytest.mark.parametrize("pagination", [{"type": "cursor", "size": 2, "size_param": "size"},
                                                      {"type": "link_header"}], ids=["cursor", "link_header"])


@_PAGINATIONS
def test_endless_empty_pages_with_fresh_cursors_or_links_are_stopped(pagination: dict[str, object]) -> None:
    """A scroll-style server answering empty pages with a fresh token for ever: stopped after
    ``max_empty_pages`` (10) of them in a row, with an error naming the stream."""
    with ScriptedServer(_scroll(["R1", "R2"])) as server:
        connector = rest_connector(server.url, stream={"pagination": pagination})
        with pytest.raises(FatalSyncError, match=r"cases.*10 empty pages in a row, each with a new"):
            list(itertools.islice(connector.read("cases"), 50))
        assert len(server.seen) == 11  # the page of records, then ten empty pages


@_PAGINATIONS
def test_the_empty_page_bound_is_configurable(pagination: dict[str, object]) -> None:
    with ScriptedServer(_scroll(["R1", "R2"])) as server:
        connector = rest_connector(server.url, stream={"pagination": {**pagination, "max_empty_pages": 3}})
        with pytest.raises(FatalSyncError, match="3 empty pages in a row"):
            list(itertools.islice(connector.read("cases"), 50))
        assert len(server.seen) == 4


def _filtered_keyset(hidden: range, total: int = 12, size: int = 2) -> Callable[[Seen], Answer]:
    """A keyset scan that filters after paging (TableStore/DynamoDB style): rows in ``hidden`` (deleted, not
    visible to us) are dropped from their page, which can leave a page empty in the middle of the data; the
    continuation still leads on."""
    def answer(request: Seen) -> Answer:
        start = int(parse_qs(urlsplit(request.path).query).get("after", ["0"])[0])
        chunk = [f"R{i:02d}" for i in range(start, min(start + size, total)) if i not in hidden]
        nxt = start + size
        extra: dict[str, object] = {"next_cursor": str(nxt)} if nxt < total else {}
        headers = {"Link": f'</cases?after={nxt}>; rel="next"'} if nxt < total else {}
        return json_answer(_page(chunk, **extra), **headers)

    return answer


@pytest.mark.parametrize("pagination", [{"type": "cursor", "size": 2, "size_param": "size", "cursor_param": "after"},
                                        {"type": "link_header"}], ids=["cursor", "link_header"])
def test_an_empty_page_with_a_new_cursor_or_link_in_the_middle_is_read_past(pagination: dict[str, object]) -> None:
    with ScriptedServer(_filtered_keyset(hidden=range(2, 8))) as server:  # three empty pages in a row
        connector = rest_connector(server.url, stream={"pagination": pagination})
        pages = list(itertools.islice(connector.read("cases"), 50))
        assert [r.source_id for p in pages for r in p.records] == ["R00", "R01", "R08", "R09", "R10", "R11"]
        assert len(server.seen) == 6


@_PAGINATIONS
def test_an_empty_page_without_a_new_cursor_or_link_ends_the_read(pagination: dict[str, object]) -> None:
    def answer(request: Seen) -> Answer:
        query = parse_qs(urlsplit(request.path).query)
        if "after" not in query and "cursor" not in query:
            return json_answer(_page(["R1", "R2"], next_cursor="t1"), Link='</cases?after=t1>; rel="next"')
        return json_answer(_page([], next_cursor="t1"), Link='</cases?after=t1>; rel="next"')  # the same again

    with ScriptedServer(answer) as server:
        connector = rest_connector(server.url, stream={"pagination": pagination})
        pages = list(itertools.islice(connector.read("cases"), 50))
        assert [r.source_id for p in pages for r in p.records] == ["R1", "R2"]
        assert len(server.seen) == 2
