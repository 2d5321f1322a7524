"""The declarative SOAP connector on zeep (entry point ``soap``), and the tools around it.

Modules, one idea each: ``config`` (the YAML schema), ``loader`` (WSDL from file/URL, cached, standard
schemas shipped), ``wsdl_model`` (the WSDL as written, read with lxml), ``inspector`` (what zeep exposes vs.
what is written), ``envelope`` (requests: zeep, rpc/encoded, literal), ``wsse`` (UsernameToken, Timestamp),
``client`` (one call: HTTP, faults, limits), ``xmltext`` (charsets, surrogate references), ``hardening``
(no DTDs, entities, network; bounded size and depth), ``faults`` (SOAP Faults → error hierarchy), ``decode``
(the fast path to dicts, DataSets), ``zeep_decode`` (zeep's object path), ``reader``/``writer``,
``connector`` (:class:`SoapConnector`), ``scaffold`` (``tongban connector new``).
"""

from __future__ import annotations

from .client import CallResult, SoapClient
from .config import SoapConfig, StreamConfig, WriteStreamConfig, parse_config
from .connector import SoapConnector
from .decode import Shape, dataset_rows, element_to_dict
from .faults import FaultRule, SoapFault
from .hardening import UnsafeXmlError, XmlLimits, parse_document
from .loader import LoadedWsdl, load_wsdl
from .wsdl_model import WsdlModel
from .xmltext import DAMAGE_MARK, decode_xml

__all__ = [
    "DAMAGE_MARK",
    "CallResult",
    "FaultRule",
    "LoadedWsdl",
    "Shape",
    "SoapClient",
    "SoapConfig",
    "SoapConnector",
    "SoapFault",
    "StreamConfig",
    "UnsafeXmlError",
    "WriteStreamConfig",
    "WsdlModel",
    "XmlLimits",
    "dataset_rows",
    "decode_xml",
    "element_to_dict",
    "load_wsdl",
    "parse_document",
    "parse_config",
]
