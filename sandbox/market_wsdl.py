"""The market-supervision system's WSDL, in the style .NET ASMX services publish at ``Service.asmx?WSDL``.

ASMX conventions kept on purpose, because real department systems look like this: the ``s:`` schema prefix,
``tm:`` textMatching namespace, ``tempuri``-like target namespace, SOAP 1.1 *and* 1.2 bindings of the same
port type, ``elementFormDefault="qualified"``, ``ArrayOfX`` wrappers, ``nillable`` strings, and one
operation that returns a DataSet (``<s:element ref="s:schema"/><s:any/>``), which generated Java clients
choke on. ``{address}`` is replaced with the URL the client addressed us by, as IIS does.
"""

from __future__ import annotations

__all__ = ["WSDL_TEMPLATE", "TNS", "RECORD_FIELDS", "STEP_FIELDS", "MATERIAL_FIELDS", "ITEM_COLUMNS", "wsdl"]

TNS = "http://scjg.jinan.gov.cn/zwfw/"

RECORD_FIELDS = (
    "YWLSH", "BJBH", "SSBM", "JBBM", "SXMC", "BLLX", "SQRMC", "SQRLX", "ZJLX", "ZJHM", "LXDH", "LXDZ",
    "SQSJ", "SLSJ", "CNBJSJ", "CNSX", "SLBMMC", "SLBMDM", "SLRY", "XZQH", "BJSJ", "BJJG", "BJYY", "ZZMC",
    "ZZBH", "HJLIST", "GXSJ",
)
"""业务信息 (YWXX) fields in schema order: upper-case pinyin initials, as the 电子监察 exchange format has them."""
STEP_FIELDS = ("XH", "HJMC", "DZ", "KSSJ", "JSSJ", "BLR", "YJ")
ITEM_COLUMNS = ("SXBM", "SXMC", "BLLX", "CNSX", "FDSX", "ZZMC")

_STRING = '<s:element minOccurs="0" maxOccurs="1" name="{0}" nillable="true" type="s:string" />'


def _fields(names: tuple[str, ...]) -> str:
    return "\n          ".join(_STRING.format(n) for n in names)


_YWXX_FIELDS = "\n          ".join(
    '<s:element minOccurs="0" maxOccurs="1" name="HJLIST" type="tns:ArrayOfHJ" />' if n == "HJLIST"
    else _STRING.format(n) for n in RECORD_FIELDS
) + '\n          <s:element minOccurs="0" maxOccurs="1" name="CLLIST" type="tns:ArrayOfCL" />'
"""``CLLIST`` (材料清单) is accepted on SubmitBusiness (materials of a case pushed here, e.g. a 一件事 part) and kept
by the service, but never listed: the 电子监察 exchange format it answers with has no materials."""
MATERIAL_FIELDS = ("CLBH", "CLMC", "CLLY", "CLZY")

WSDL_TEMPLATE = f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tm="http://microsoft.com/wsdl/mime/textMatching/" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:mime="http://schemas.xmlsoap.org/wsdl/mime/" xmlns:tns="{TNS}" xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:http="http://schemas.xmlsoap.org/wsdl/http/" targetNamespace="{TNS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">
  <wsdl:documentation xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">济南市市场监督管理局 企业登记审批系统 数据交换接口（电子监察格式）</wsdl:documentation>
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="{TNS}">
      <s:element name="GetBusinessList">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="startTime" type="s:string" />
            <s:element minOccurs="1" maxOccurs="1" name="pageIndex" type="s:int" />
            <s:element minOccurs="1" maxOccurs="1" name="pageSize" type="s:int" />
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="GetBusinessListResponse">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="GetBusinessListResult" type="tns:BusinessPage" />
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:complexType name="BusinessPage">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="CODE" type="s:string" />
          <s:element minOccurs="0" maxOccurs="1" name="MSG" type="s:string" />
          <s:element minOccurs="1" maxOccurs="1" name="TOTAL" type="s:int" />
          <s:element minOccurs="1" maxOccurs="1" name="PAGEINDEX" type="s:int" />
          <s:element minOccurs="1" maxOccurs="1" name="PAGESIZE" type="s:int" />
          <s:element minOccurs="0" maxOccurs="1" name="RECORDS" type="tns:ArrayOfYWXX" />
        </s:sequence>
      </s:complexType>
      <s:complexType name="ArrayOfYWXX">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="unbounded" name="YWXX" nillable="true" type="tns:YWXX" />
        </s:sequence>
      </s:complexType>
      <s:complexType name="YWXX">
        <s:sequence>
          {_YWXX_FIELDS}
        </s:sequence>
      </s:complexType>
      <s:complexType name="ArrayOfHJ">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="unbounded" name="HJ" nillable="true" type="tns:HJ" />
        </s:sequence>
      </s:complexType>
      <s:complexType name="HJ">
        <s:sequence>
          {_fields(STEP_FIELDS)}
        </s:sequence>
      </s:complexType>
      <s:complexType name="ArrayOfCL">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="unbounded" name="CL" nillable="true" type="tns:CL" />
        </s:sequence>
      </s:complexType>
      <s:complexType name="CL">
        <s:sequence>
          {_fields(MATERIAL_FIELDS)}
        </s:sequence>
      </s:complexType>
      <s:element name="GetItemCatalog">
        <s:complexType />
      </s:element>
      <s:element name="GetItemCatalogResponse">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="GetItemCatalogResult">
              <s:complexType>
                <s:sequence>
                  <s:element ref="s:schema" />
                  <s:any />
                </s:sequence>
              </s:complexType>
            </s:element>
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="SubmitBusiness">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="requestId" type="s:string" />
            <s:element minOccurs="0" maxOccurs="1" name="business" type="tns:YWXX" />
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="SubmitBusinessResponse">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="SubmitBusinessResult" type="tns:WriteResult" />
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="CancelBusiness">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="requestId" type="s:string" />
            <s:element minOccurs="0" maxOccurs="1" name="BJBH" type="s:string" />
            <s:element minOccurs="0" maxOccurs="1" name="reason" type="s:string" />
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:element name="CancelBusinessResponse">
        <s:complexType>
          <s:sequence>
            <s:element minOccurs="0" maxOccurs="1" name="CancelBusinessResult" type="tns:WriteResult" />
          </s:sequence>
        </s:complexType>
      </s:element>
      <s:complexType name="WriteResult">
        <s:sequence>
          <s:element minOccurs="0" maxOccurs="1" name="CODE" type="s:string" />
          <s:element minOccurs="0" maxOccurs="1" name="MSG" type="s:string" />
          <s:element minOccurs="0" maxOccurs="1" name="YWLSH" type="s:string" />
          <s:element minOccurs="1" maxOccurs="1" name="CREATED" type="s:boolean" />
          <s:element minOccurs="1" maxOccurs="1" name="DUPLICATE" type="s:boolean" />
        </s:sequence>
      </s:complexType>
    </s:schema>
  </wsdl:types>
  <wsdl:message name="GetBusinessListSoapIn"><wsdl:part name="parameters" element="tns:GetBusinessList" /></wsdl:message>
  <wsdl:message name="GetBusinessListSoapOut"><wsdl:part name="parameters" element="tns:GetBusinessListResponse" /></wsdl:message>
  <wsdl:message name="GetItemCatalogSoapIn"><wsdl:part name="parameters" element="tns:GetItemCatalog" /></wsdl:message>
  <wsdl:message name="GetItemCatalogSoapOut"><wsdl:part name="parameters" element="tns:GetItemCatalogResponse" /></wsdl:message>
  <wsdl:message name="SubmitBusinessSoapIn"><wsdl:part name="parameters" element="tns:SubmitBusiness" /></wsdl:message>
  <wsdl:message name="SubmitBusinessSoapOut"><wsdl:part name="parameters" element="tns:SubmitBusinessResponse" /></wsdl:message>
  <wsdl:message name="CancelBusinessSoapIn"><wsdl:part name="parameters" element="tns:CancelBusiness" /></wsdl:message>
  <wsdl:message name="CancelBusinessSoapOut"><wsdl:part name="parameters" element="tns:CancelBusinessResponse" /></wsdl:message>
  <wsdl:portType name="ScjgServiceSoap">
    <wsdl:operation name="GetBusinessList">
      <wsdl:documentation xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">按更新时间（yyyyMMddHHmmss，含）分页获取办件信息</wsdl:documentation>
      <wsdl:input message="tns:GetBusinessListSoapIn" />
      <wsdl:output message="tns:GetBusinessListSoapOut" />
    </wsdl:operation>
    <wsdl:operation name="GetItemCatalog">
      <wsdl:documentation xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">获取事项目录（DataSet）</wsdl:documentation>
      <wsdl:input message="tns:GetItemCatalogSoapIn" />
      <wsdl:output message="tns:GetItemCatalogSoapOut" />
    </wsdl:operation>
    <wsdl:operation name="SubmitBusiness">
      <wsdl:documentation xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">推送办件（按办件编号新增或更新，requestId 幂等）</wsdl:documentation>
      <wsdl:input message="tns:SubmitBusinessSoapIn" />
      <wsdl:output message="tns:SubmitBusinessSoapOut" />
    </wsdl:operation>
    <wsdl:operation name="CancelBusiness">
      <wsdl:documentation xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">作废办件（requestId 幂等）</wsdl:documentation>
      <wsdl:input message="tns:CancelBusinessSoapIn" />
      <wsdl:output message="tns:CancelBusinessSoapOut" />
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="ScjgServiceSoap" type="tns:ScjgServiceSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http" />
    {{ops11}}
  </wsdl:binding>
  <wsdl:binding name="ScjgServiceSoap12" type="tns:ScjgServiceSoap">
    <soap12:binding transport="http://schemas.xmlsoap.org/soap/http" />
    {{ops12}}
  </wsdl:binding>
  <wsdl:service name="ScjgService">
    <wsdl:port name="ScjgServiceSoap" binding="tns:ScjgServiceSoap">
      <soap:address location="{{address}}" />
    </wsdl:port>
    <wsdl:port name="ScjgServiceSoap12" binding="tns:ScjgServiceSoap12">
      <soap12:address location="{{address}}" />
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""

_OPERATIONS = ("GetBusinessList", "GetItemCatalog", "SubmitBusiness", "CancelBusiness")


def _binding_ops(prefix: str) -> str:
    return "\n    ".join(
        f'<wsdl:operation name="{op}"><{prefix}:operation soapAction="{TNS}{op}" style="document" />'
        f'<wsdl:input><{prefix}:body use="literal" /></wsdl:input>'
        f'<wsdl:output><{prefix}:body use="literal" /></wsdl:output></wsdl:operation>'
        for op in _OPERATIONS
    )


def wsdl(address: str) -> str:
    """The WSDL with the service address the client used (``http://host:port/ScjgService.asmx``)."""
    from xml.sax.saxutils import quoteattr

    return WSDL_TEMPLATE.format(ops11=_binding_ops("soap"), ops12=_binding_ops("soap12"),
                                address=quoteattr(address)[1:-1])
