"""SOAP answer decoding throughput: Tongban's fast path vs zeep's object decoding, against a raw lxml parse.

One GetBusinessList answer of N records (the sandbox market system's own wire format: GB18030, upper-case
pinyin, nested steps) is decoded repeatedly three ways, in the same run:

- baseline: ``lxml.etree.fromstring`` of the same bytes (parse only, no Python per element);
- fast path: charset decision + hardened parse + records straight into dicts (the mapper's input), with the
  compiled tree walker (connectors/soap/_fastdict.pyx); the same path on the pure-Python walker is printed too;
- zeep: zeep's ``process_reply`` building typed objects per record, then ``serialize_object`` to dicts.

The ratio is records/s of a path divided by records/s of the baseline (target for the fast path >= 0.4,
stretch 0.5). Absolute figures are for information only (shared, noisy machines).

    .venv/bin/python bench/soap_decode.py [--records 2000] [--repeat 5] [--encoding gb18030|utf-8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# bench/ itself must not shadow the packages (bench/gateway.py is a script, not the gateway package)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree  # noqa: E402

from connectors.soap.decode import WALKER, element_to_dict, element_to_dict_py, record_elements, soap_body  # noqa: E402
from connectors.soap.hardening import parse_document  # noqa: E402
from connectors.soap.loader import load_wsdl  # noqa: E402
from connectors.soap.reader import record_shape  # noqa: E402
from connectors.soap.config import StreamConfig  # noqa: E402
from connectors.soap.xmltext import decode_xml  # noqa: E402
from connectors.soap.zeep_decode import zeep_records  # noqa: E402
from sandbox.market import MarketApp  # noqa: E402
from sandbox.market_wsdl import wsdl  # noqa: E402

PATH = "GetBusinessListResponse.GetBusinessListResult.RECORDS.YWXX"


def answer(records: int, encoding: str) -> bytes:
    app = MarketApp(seed=42, records=records)
    app.encoding.update(declaration=encoding)
    body = app._list({"pageIndex": "1", "pageSize": "500"})  # noqa: SLF001 - the sandbox's own renderer
    pages = [body]
    for index in range(2, (records + 499) // 500 + 1):
        pages.append(app._list({"pageIndex": str(index), "pageSize": "500"}))  # noqa: SLF001
    # one answer holding every record: splice the RECORDS of all pages into the first
    inner = "".join(p.split("<RECORDS>", 1)[1].split("</RECORDS>", 1)[0] for p in pages)
    merged = pages[0].split("<RECORDS>", 1)[0] + "<RECORDS>" + inner + "</RECORDS>" + pages[0].split("</RECORDS>", 1)[1]
    return app._soap(200, merged, False).body  # type: ignore[return-value]  # noqa: SLF001


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - started)
    return min(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--encoding", default="gb18030", choices=["gb18030", "utf-8"])
    args = parser.parse_args()

    data = answer(args.records, args.encoding)
    if args.encoding == "utf-8":
        data = data.decode("gb18030").encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        wsdl_path = Path(tmp) / "market.wsdl"
        wsdl_path.write_text(wsdl("http://127.0.0.1/ScjgService.asmx"), encoding="utf-8")
        loaded = load_wsdl(str(wsdl_path), offline=True)
    port = next(p for p in loaded.model.soap_ports() if p.protocol == "soap11")
    op = next(o for o in loaded.model.operations_of(port) if o.name == "GetBusinessList")
    stream = StreamConfig(operation="GetBusinessList", result_path=PATH, primary_key="YWLSH")

    class _Client:  # what record_shape needs: the loaded WSDL
        pass

    client = _Client()
    client.loaded = loaded  # type: ignore[attr-defined]
    shape = record_shape(client, op, stream)  # type: ignore[arg-type]

    def raw() -> int:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        return args.records if root is not None else 0

    def fast() -> int:
        decoded = decode_xml(data, "text/xml; charset=gb18030")
        body = soap_body(parse_document(decoded.data, where="bench"), where="bench")
        return len([element_to_dict(el, shape) for el in record_elements(body, PATH, where="bench")])

    def fast_reference() -> int:  # the same path on the pure-Python walker (where no compiler is available)
        decoded = decode_xml(data, "text/xml; charset=gb18030")
        body = soap_body(parse_document(decoded.data, where="bench"), where="bench")
        return len([element_to_dict_py(el, shape) for el in record_elements(body, PATH, where="bench")])

    def slow() -> int:
        root = parse_document(decode_xml(data).data, where="bench")
        return len(zeep_records(loaded, port, op, root, PATH, where="bench"))

    assert fast() == slow() == fast_reference() == args.records
    raw_s, _ = best(raw, args.repeat)
    fast_s, _ = best(fast, args.repeat)
    reference_s, _ = best(fast_reference, args.repeat)
    zeep_s, _ = best(slow, max(1, args.repeat // 2))
    n = args.records
    print(f"soap_decode: {n} records, {len(data) / 1e6:.2f} MB {args.encoding}, best of {args.repeat}")
    print(f"  raw lxml parse   {n / raw_s:12,.0f} records/s   (baseline)")
    print(f"  fast path        {n / fast_s:12,.0f} records/s   ratio {raw_s / fast_s:.2f}  (target >= 0.40, stretch 0.50)")
    print(f"    walker: {WALKER}")
    print(f"  fast path, pure-Python walker {n / reference_s:,.0f} records/s   ratio {raw_s / reference_s:.2f}  "
          f"(the fallback without a C compiler)")
    print(f"  zeep objects     {n / zeep_s:12,.0f} records/s   ratio {raw_s / zeep_s:.3f}")
    print(f"  fast / zeep      {zeep_s / fast_s:.1f}x")


if __name__ == "__main__":
    main()
