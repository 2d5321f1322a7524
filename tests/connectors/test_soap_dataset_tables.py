""".NET DataSets as ASMX services really return them: more than one table, and tables nested in rows.

A DataSet often carries the records and, beside them, a second table for paging (``Table1`` with ``TOTAL``) or
a status. Read without ``dataset_table``, every table's rows were records: the count row became a record with
no key on every page. A ``dataset_table`` the DataSet does not hold (renamed, another case) read as an empty
page — a sync that silently stops. A nested table (a DataRelation with ``Nested="true"``: a case's materials in
its row) was a dict with one row and a list with two, and its columns were added to the parent row as ``None``.

The end-to-end test reads a real corpus WSDL (``GetPointWarningInfoSeach`` of a noise-monitoring ASMX service)
over HTTP from a server on 127.0.0.1 answering as the .NET stack writes a two-table DataSet.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import escape

import pytest
from asmx_testlib import SECRETS, Call, CorpusServices, _envelope, noise_config, warning_rows
from lxml import etree

from connectors.soap import SoapConnector, dataset_rows
from gateway.contract.errors import FatalSyncError

_XS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"'
_DIFFGR = ('xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" '
           'xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"')


def _columns(names: list[str]) -> str:
    return "".join(f'<xs:element name="{n}" type="xs:string" minOccurs="0"/>' for n in names)


def _table(name: str, inner: str) -> str:
    return f'<xs:element name="{name}"><xs:complexType><xs:sequence>{inner}</xs:sequence></xs:complexType></xs:element>'


def _dataset(tables: str, rows: str) -> str:
    return (f'<xs:schema id="NewDataSet" xmlns="" {_XS}><xs:element name="NewDataSet" msdata:IsDataSet="true">'
            f'<xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">{tables}</xs:choice></xs:complexType>'
            f'</xs:element></xs:schema><diffgr:diffgram {_DIFFGR}><NewDataSet xmlns="">{rows}</NewDataSet>'
            "</diffgr:diffgram>")


def _row(table: str, k: int, cells: dict[str, str], inner: str = "") -> str:
    return (f'<{table} diffgr:id="{table}{k + 1}" msdata:rowOrder="{k}">'
            + "".join(f"<{c}>{escape(v)}</{c}>" for c, v in cells.items()) + inner + f"</{table}>")


def _result(dataset: str) -> etree._Element:
    return etree.fromstring(f"<GetListResult>{dataset}</GetListResult>".encode())


_PAGED = _dataset(_table("Table", _columns(["SLBH", "SQRMC"])) + _table("Table1", _columns(["TOTAL"])),
                  _row("Table", 0, {"SLBH": "A1", "SQRMC": "张三"}) + _row("Table", 1, {"SLBH": "A2"})
                  + _row("Table1", 0, {"TOTAL": "2"}))


def test_a_dataset_of_two_tables_asks_which_one_holds_the_records() -> None:
    with pytest.raises(FatalSyncError) as caught:
        dataset_rows(_result(_PAGED))
    message = str(caught.value)
    assert "2 tables (<Table> 2 row(s), <Table1> 1 row(s))" in message and "set dataset_table" in message
    assert dataset_rows(_result(_PAGED), table="Table") == [{"SLBH": "A1", "SQRMC": "张三"},
                                                           {"SLBH": "A2", "SQRMC": None}]
    assert dataset_rows(_result(_PAGED), table="Table1") == [{"TOTAL": "2"}]


@pytest.mark.parametrize("table", ["table", "SXML"])
def test_a_table_the_dataset_does_not_hold_is_no_empty_page(table: str) -> None:
    with pytest.raises(FatalSyncError, match=f"dataset_table '{table}' is not among the DataSet's tables"):
        dataset_rows(_result(_PAGED), table=table, where="items")


def test_a_declared_table_without_rows_is_an_empty_page() -> None:
    empty = _dataset(_table("Table", _columns(["SLBH"])) + _table("Table1", _columns(["TOTAL"])),
                     _row("Table1", 0, {"TOTAL": "0"}))
    assert dataset_rows(_result(empty), table="Table") == []
    assert dataset_rows(_result(_dataset(_table("Table", _columns(["SLBH"])), "")), table=None) == []


def test_rows_of_a_dataset_without_schema_are_still_told_apart() -> None:
    bare = (f"<diffgr:diffgram {_DIFFGR}><NewDataSet>" + _row("Table", 0, {"SLBH": "A1"})
            + _row("Table1", 0, {"TOTAL": "1"}) + "</NewDataSet></diffgr:diffgram>")
    with pytest.raises(FatalSyncError, match="set dataset_table"):
        dataset_rows(_result(bare))
    assert dataset_rows(_result(bare), table="Table") == [{"SLBH": "A1"}]


def test_without_a_schema_a_table_with_no_rows_on_the_page_is_an_empty_page() -> None:
    """Review of the fix: without a schema the tables were guessed from the rows present, so the last page (the
    count table's row alone) was "not among the DataSet's tables" — a failed sync instead of an empty page."""
    last = (f"<diffgr:diffgram {_DIFFGR}><NewDataSet>" + _row("Table1", 0, {"TOTAL": "0"})
            + "</NewDataSet></diffgr:diffgram>")
    assert dataset_rows(_result(last), table="Table") == []


def test_a_nested_table_is_a_list_in_its_row_with_only_its_own_columns() -> None:
    materials = _table("CL", _columns(["CLMC", "FS"])).replace('<xs:element name="CL">',
                                                             '<xs:element name="CL" minOccurs="0" '
                                                             'maxOccurs="unbounded">')
    nested = _dataset(_table("Table", _columns(["SLBH", "SQRMC"]) + materials), "".join([
        _row("Table", 0, {"SLBH": "A1", "SQRMC": "张三"}, "<CL><CLMC>身份证</CLMC></CL>"),
        _row("Table", 1, {"SLBH": "A2"}, "<CL><CLMC>身份证</CLMC><FS>1</FS></CL><CL><CLMC>营业执照</CLMC></CL>"),
        _row("Table", 2, {"SLBH": "A3"}),
    ]))
    assert dataset_rows(_result(nested)) == [
        {"SLBH": "A1", "SQRMC": "张三", "CL": [{"CLMC": "身份证", "FS": None}]},
        {"SLBH": "A2", "CL": [{"CLMC": "身份证", "FS": "1"}, {"CLMC": "营业执照", "FS": None}], "SQRMC": None},
        {"SLBH": "A3", "CL": [], "SQRMC": None},
    ]


class _PagedWarnings(CorpusServices):
    """The noise service answering its warning search with the records and a count table, as many ASMX
    services page (``ds.Tables[0]`` the page, ``ds.Tables[1]`` the total)."""

    def answer(self, call: Call) -> tuple[int, bytes]:
        if call.operation != "GetPointWarningInfoSeach":
            return super().answer(call)
        page, size = int(call.params.get("iPage") or 1), int(call.params.get("iRows") or 10)
        start, end = call.params.get("strDayTimeStrat") or "", call.params.get("strDayTimeEnd") or "9999"
        everything = [r for r in warning_rows() if start <= r["WARN_TIME"] <= end]
        rows = everything[(page - 1) * size:page * size]
        columns = ["WARN_ID", "POINT_CODE", "WARN_VALUE", "WARN_TIME"]
        dataset = _dataset(_table("Table", _columns(columns)) + _table("Table1", _columns(["TOTAL"])),
                           "".join(_row("Table", k, {c: r[c] for c in columns}) for k, r in enumerate(rows))
                           + _row("Table1", 0, {"TOTAL": str(len(everything))}))
        op = call.operation
        return 200, _envelope(f'<{op}Response xmlns="http://tempuri.org/"><{op}Result>{dataset}</{op}Result>'
                              f"</{op}Response>")


@pytest.fixture(scope="module")
def services() -> Iterator[_PagedWarnings]:
    with _PagedWarnings() as running:
        yield running


def test_a_paged_dataset_over_http_reads_only_the_records_table(services: _PagedWarnings) -> None:
    unset = SoapConnector(noise_config(base_url=services.url), secrets=SECRETS)
    with pytest.raises(FatalSyncError, match=r"<Table> 10 row\(s\), <Table1> 1 row\(s\)\): set dataset_table"):
        list(unset.read("warnings"))

    config = noise_config(base_url=services.url)
    config["streams"]["warnings"]["dataset_table"] = "Table"
    records = [r for page in SoapConnector(config, secrets=SECRETS).read("warnings") for r in page.records]
    assert {r.source_id for r in records} == {w["WARN_ID"] for w in warning_rows()}  # re-anchoring may repeat one
    assert all(set(r.payload) == {"WARN_ID", "POINT_CODE", "WARN_VALUE", "WARN_TIME"} for r in records)
