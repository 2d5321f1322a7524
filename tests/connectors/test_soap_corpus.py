"""Every WSDL of the compatibility corpus (tests/wsdl-corpus, a copy of ../shared/wsdl-corpus: real files from public repositories) loads
offline, and ``tongban connector new`` lists every operation as written and flags what zeep cannot expose.

The table pins, per file: operations in the SOAP portType as written (overloads counted), distinct names,
how many zeep exposes, and the variants zeep loses silently. The counts are also checked against an
independent XPath count of the file, so the pin cannot drift from the document.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from lxml import etree
from soap_testlib import CORPUS
from typer.testing import CliRunner

from connectors.soap import parse_config
from gateway.cli import app

EXPECTED: dict[str, tuple[int, int, int, list[str]]] = {
    "axis2-intesi-qrbox-handler.wsdl": (4, 4, 3, ["flushCache"]),
    "cn-cxf-oaloanservice.wsdl": (1, 1, 1, []),
    "cn-gov-env-noise-monitoring.wsdl": (33, 33, 33, []),
    "cn-hospital-his-quyiservice.wsdl": (57, 57, 57, []),
    "cn-kingdee-eas-easlogin-axis1.wsdl": (8, 6, 6, ["login#0", "login#1"]),
    "cn-sap-pi-tidepharm-hr-kqmx.wsdl": (1, 1, 1, []),
    "cn-weaver-oa-financebase-xfire.wsdl": (14, 14, 14, []),
    "cxf-secureservice-usernametoken-policy.wsdl": (2, 2, 2, []),
    "webxml-mobilecodews.wsdl": (2, 2, 2, []),
    "webxml-traintimewebservice.wsdl": (8, 8, 8, []),
    "webxml-weatherwebservice.wsdl": (5, 5, 5, []),
    "webxml-weatherws-handpatched.wsdl": (6, 6, 6, []),
}
# SOAP operations answering a DataSet. SOURCES.md counts `ref="s:schema"` occurrences (2, 6, 24): one more each,
# the global `DataSet` element that only the HTTP GET/POST bindings use.
DATASETS = {"webxml-weatherwebservice.wsdl": 1, "webxml-traintimewebservice.wsdl": 5,
            "cn-gov-env-noise-monitoring.wsdl": 23}
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"WSDL corpus folder not found at {CORPUS}")
runner = CliRunner()


def _written_by_xpath(path: Path) -> list[str]:
    """portType operation names of the first SOAP binding's portType, straight from the file."""
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/"}
    soap_binding = next(b for b in root.findall("w:binding", ns)
                        if any(etree.QName(c).localname == "binding" and "soap" in (etree.QName(c).namespace or "")
                               for c in b))
    port_type = soap_binding.get("type").split(":")[-1]
    return [op.get("name") for op in root.find(f"w:portType[@name='{port_type}']", ns).findall("w:operation", ns)]


def test_the_corpus_is_complete() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.wsdl")) == sorted(EXPECTED)


def _rows(markdown: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith("|") and not line.startswith("|---")]


def test_sources_says_what_licence_each_origin_repository_declares() -> None:
    """Review: SOURCES.md named, for each file, the repository it came from, but nothing about licences. Every
    repository a file (or a copy of it) came from has a row in its Licence section: what it declares, and where
    that was looked for — this repository's SOURCES.md, whatever TONGBAN_WSDL_CORPUS points at."""
    text = (Path(__file__).resolve().parents[1] / "wsdl-corpus" / "SOURCES.md").read_text(encoding="utf-8")
    assert "\n## Licence\n" in text, "SOURCES.md has no Licence section"
    files, licences = text.split("\n## Licence\n", 1)
    origins: dict[str, set[str]] = {}
    for row in _rows(files)[1:]:
        name, origin = row[0], row[1]
        for repo in [origin.split(" · ", 1)[0], *re.findall(r"copy: ([\w.-]+/[\w.-]+)", origin)]:
            origins.setdefault(repo, set()).add(name)
    assert set().union(*origins.values()) == set(EXPECTED)
    table = {row[0]: row for row in _rows(licences)[1:]}
    assert set(table) == set(origins), "a repository without its licence row, or a row of no origin"
    for repo, names in origins.items():
        _, listed, licence, evidence = table[repo]
        assert licence and evidence, repo
        assert all(name in listed for name in names), (repo, names, listed)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_connector_new_lists_every_operation_and_flags_zeep_losses(name: str) -> None:
    path = CORPUS / name
    result = runner.invoke(app, ["connector", "new", "probe", "--wsdl", str(path), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    variants, names, zeep, lost = EXPECTED[name]
    written = _written_by_xpath(path)
    assert len(written) == variants and len(set(written)) == names
    assert [op["name"] for op in report["operations"]] == written
    assert report["written"] == list(dict.fromkeys(written))
    assert len(report["zeep_operations"]) == zeep
    losses = [op["name"] + (f"#{op['variant']}" if op["variants"] > 1 else "")
              for op in report["operations"] if not op["zeep_exposes"]]
    assert losses == lost
    assert len(report["losses"]) == len(lost) and all(op["flags"] for op in report["operations"]
                                                      if not op["zeep_exposes"])
    datasets = sum(1 for op in report["operations"] if any(r["dataset"] for r in op["result"]))
    assert datasets == DATASETS.get(name, 0)
    if name.startswith("cn-kingdee"):
        assert all(op["use"] == "encoded" and any("xsi:type" in f for f in op["flags"]) for op in report["operations"])
    if name.startswith("axis2"):
        assert any("ns:null" in w or "flushCache" in w for w in report["zeep_warnings"])
        flush = next(op for op in report["operations"] if op["name"] == "flushCache")
        assert "does not exist" in flush["flags"][0]


def test_connector_new_writes_a_yaml_a_mapping_and_a_test(tmp_path: Path) -> None:
    wsdl = CORPUS / "cn-gov-env-noise-monitoring.wsdl"
    result = runner.invoke(app, ["connector", "new", "noise", "--wsdl", str(wsdl), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "zeep loses silently: 0" in result.output and "GetAreaPointData" in result.output
    config = yaml.safe_load((tmp_path / "config" / "connectors" / "noise.yaml").read_text(encoding="utf-8"))
    parsed = parse_config(config | {"base_url": "http://127.0.0.1:1"})
    stream = parsed.streams["cases"]
    assert stream.result == "dataset" and stream.result_path.endswith("Result")
    mapping = yaml.safe_load((tmp_path / "mappings" / "noise.yaml").read_text(encoding="utf-8"))
    assert mapping["system"] == "noise" and "case_no" in mapping["fields"]
    test_source = (tmp_path / "tests" / "connectors" / "test_noise_acceptance.py").read_text(encoding="utf-8")
    compile(test_source, "test_noise_acceptance.py", "exec")
    again = runner.invoke(app, ["connector", "new", "noise", "--wsdl", str(wsdl), "--out", str(tmp_path)])
    assert again.exit_code != 0 and "--force" in again.output
