"""A write answered HTTP 200 whose body says it failed is not a delivery, for streams without a ``success`` rule.

Found by review: ``{"success": "false"}``, ``{"result": "false"}``, ``{"returnCode": "500", "returnMsg": …}``,
``{"status": "error", …}`` and a SOAP ``<result>false</result>`` were all counted delivered (only the JSON boolean
``false`` and ``code``/``errcode`` were read), and the reconciliation then took the receipt for what the target
holds. Both writers (REST and SOAP) judge the answer with :func:`check_write_success`."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from connectors.common.records import check_write_success
from connectors.soap.decode import element_to_dict
from gateway.contract.errors import WriteRejectedError


@pytest.mark.parametrize("body", [
    {"success": "false", "msg": "数据校验失败"},
    {"success": 0, "msg": "数据校验失败"},
    {"result": "false", "message": "save failed"},
    {"flag": "FAIL", "message": "保存失败"},
    {"isSuccess": False},
    {"returnCode": "500", "returnMsg": "system error"},
    {"resultCode": 1001, "resultMsg": "办件编号重复"},
    {"retCode": "9999", "retMsg": "其他错误"},
    {"status": "error", "msg": "db down"},
    "false",
    False,
    # a third review's finds: a message that mentions success, a negation or a count in it, a signed envelope,
    # .NET's PascalCase, ret, reason and ok
    {"success": False, "message": "保存不成功：统一社会信用代码校验未通过"},
    {"isSuccess": False, "errorMsg": "申报未成功：材料缺失"},
    {"code": 500, "msg": "操作不成功"},
    {"errcode": 40001, "errmsg": "access_token 获取未成功"},
    {"success": False, "msg": "导入成功0条，失败1条：身份证号码格式错误"},
    {"code": 500, "msg": "共1条，成功0条，失败1条"},
    {"returnCode": "9999", "returnMsg": "推送成功0条"},
    {"code": 500, "msg": "系统异常", "data": None, "sign": "abc"},
    {"code": -1, "msg": "签名校验失败", "data": None, "nonce": "x", "appId": "a"},
    {"Success": False, "Message": "保存失败"},
    {"Code": 500, "Msg": "系统异常", "Data": None},
    {"code": 500, "message": "Internal error", "data": None, "ok": False},
    {"ret": -1, "msg": "签名错误"},
    {"code": 500, "reason": "数据库异常"},
    # codes that are words (a fourth review's find: only numbers were read)
    {"resultCode": "E500", "resultMsg": "系统繁忙"},
    {"code": "SYSTEM_ERROR", "msg": "系统错误", "data": None},
    {"code": "INVALID_PARAM", "message": "参数不合法: projectNo"},
    {"errorCode": "x", "code": "ERR_DB_TIMEOUT", "msg": "database timeout"},
    {"code": "A0400", "msg": "用户请求参数错误"},
    {"code": "B0001", "msg": "系统执行出错", "traceId": "t1"},
    {"status": "FAIL_BUSINESS", "msg": "业务校验不通过"},
])
def test_an_answer_that_says_it_failed_is_refused(body: Any) -> None:
    with pytest.raises(WriteRejectedError):
        check_write_success(body, None, where="hall write 'cases' key 'A1'")


def test_a_soap_answer_decoded_from_xml_is_text_and_still_read() -> None:
    answer = etree.fromstring("<saveResult><success>false</success><msg>申请人证件号码校验失败</msg></saveResult>")
    body = element_to_dict(answer)
    assert body == {"success": "false", "msg": "申请人证件号码校验失败"}
    with pytest.raises(WriteRejectedError, match="申请人证件号码校验失败"):
        check_write_success(body, None, where="market write 'cases' key 'A1'")


@pytest.mark.parametrize("body", [
    {"id": "MZ1", "created": True, "duplicate": False},          # the sandbox civil's answer
    {"code": 0, "msg": "success", "data": {"id": "MZ1"}},
    {"code": "200", "msg": "成功"},
    {"returnCode": "0000", "returnMsg": "成功"},
    {"code": "500", "msg": "成功"},                                # a message that says success: not called failed
    {"success": True, "code": "500", "msg": "x"},
    {"result": "issued", "code": "5"},                           # an echoed record with codes of its own
    {"status": "processing", "msg": "已受理"},
    "true",
    None,
    # a second review's finds: records echoed back with codes and words of their own, and success said otherwise
    {"case_no": "370113202612060001", "code": "370113", "status": "returned", "reason": "材料不全，请补正"},
    {"projectNo": "MZ1", "ret": 2, "reason": "已退回"},
    {"statusCode": 201, "message": "Created"},
    {"resultCode": "1", "resultMsg": "保存成功"},
    {"code": 500, "msg": "操作成功"},
    {"case_no": "A1", "result": "fail", "msg": "检查不合格"},                 # an inspection's result, echoed
    {"case_no": "A1", "status": "error", "msg": "补正中"},
    {"result": "success", "code": "1", "msg": "已接收"},                   # success said in result or flag
    {"flag": "Y", "code": "1", "msg": "提交完成"},
    {"code": 1, "msg": "已受理", "data": {"id": "X1"}},                     # code 1 with a success message
    {"code": "10000", "msg": "Success"},
    {"code": "00000", "msg": "一切ok"},                                      # Alibaba's success
    {"code": "SUCCESS", "msg": "处理完毕"},
    {"code": "OK", "msg": "done"},
    {"code": "370100-XK-001", "msg": "已入库"},
    {"case_no": "A1", "code": "E500", "msg": "x"},                          # an echoed record's own code
    {"code": "ERROR", "msg": "保存成功"},                                    # said success, whole
])
def test_an_answer_that_does_not_say_so_is_a_delivery(body: Any) -> None:
    check_write_success(body, None, where="hall write 'cases' key 'A1'")
