"""A department's own system takes its 12345 work orders over the gateway API: the queue, one order with its
content, sign for it, reply — and each step reaches the hotline platform once. Real HTTP on both sides: the
sandbox hotline platform, the gateway server; both backends.

A client sees only its own department's orders (another department's order is "not found", so numbers cannot
be probed), needs the ``workorders`` scope and a department, and a step the rules refuse (a second signature,
a reply to a replied order) is a 409 problem naming the rule.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests
from citizen_testlib import (
    handed_at,
    hotline,
    hotline_clock,
    hotline_platform,
)
from gateway_testlib import bearer, make_gateway, serve
from sqlalchemy import select

from gateway.citizen import deliver, list_workorders, sync_workorders
from gateway.ops.deadlines.calendar import BEIJING
from gateway.store.tables import audit_log


def test_a_department_system_lists_signs_and_replies_over_the_api(database_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with hotline(database_url, monkeypatch, orders=40) as (sandbox, settings, engine, calendar, client, orders):
        now = max(map(handed_at, orders)) + timedelta(minutes=10)
        hotline_clock(sandbox, now)
        sync_workorders(engine, settings, client=client, calendar=calendar, now=now)
        deliver(engine, "hotline", client, now=now)

        routed = [o for o in list_workorders(engine, limit=1000) if o["status"] == "dispatched"]
        per_dept = Counter(o["dept_code"] for o in routed)
        dept, mine = per_dept.most_common(1)[0]
        other = next(o for o in routed if o["dept_code"] != dept)
        assert mine >= 2

        gw = make_gateway(engine, rate_limit=100_000)
        department = gw.clients.add("dept_system", department_code=dept, scopes=["workorders"])
        stranger = gw.clients.add("other_dept", department_code=other["dept_code"], scopes=["workorders"])
        no_scope = gw.clients.add("no_scope", department_code=dept)
        no_dept = gw.clients.add("no_dept", scopes=["workorders"])
        for server in serve(gw, webhook_interval=0):
            url = server.url + "/v1/workorders"
            auth = bearer(department.credential)

            # the queue, a page at a time: exactly this department's routed orders, oldest first
            seen, after = [], None
            while True:
                page = requests.get(url, params={"limit": 2, **({"after": after} if after else {})}, headers=auth,
                                    timeout=30)
                assert page.status_code == 200, page.text
                assert page.headers["Tongban-Signature"]
                body = page.json()
                seen += body["orders"]
                after = body["next_after"]
                if after is None:
                    break
            assert [o["order_no"] for o in seen] == [o["order_no"] for o in routed if o["dept_code"] == dept]
            assert {o["status"] for o in seen} == {"dispatched"} and all("content" not in o for o in seen)

            order_no = seen[0]["order_no"]
            one = requests.get(f"{url}/{order_no}", headers=auth, timeout=30).json()
            assert one["order_no"] == order_no and one["content"]

            # another department's order does not exist for this client; nor for the wrong scope or no department
            assert requests.get(f"{url}/{other['order_no']}", headers=auth, timeout=30).status_code == 404
            assert requests.post(f"{url}/{other['order_no']}/sign", headers=auth, timeout=30).status_code == 404
            assert requests.get(f"{url}/{order_no}", headers=bearer(stranger.credential), timeout=30).status_code == 404
            # nor as a paging cursor: its receive time would otherwise leak through which orders follow it
            for cursor in (other["order_no"], "NO-SUCH-ORDER"):
                probe = requests.get(url, params={"after": cursor}, headers=auth, timeout=30)
                assert probe.status_code == 422 and probe.json()["errors"][0]["loc"] == ["query", "after"]
            assert requests.get(url, headers=bearer(no_scope.credential), timeout=30).status_code == 403
            refused = requests.get(url, headers=bearer(no_dept.credential), timeout=30)
            assert refused.status_code == 403 and refused.json()["type"].endswith("/no-department")

            # sign, then reply; the rules refuse a second signature and a second reply, naming the rule
            signed = requests.post(f"{url}/{order_no}/sign", headers=auth, timeout=30)
            assert signed.status_code == 200 and signed.json()["on_time"] in (True, False)
            again = requests.post(f"{url}/{order_no}/sign", headers=auth, timeout=30)
            assert again.status_code == 409 and again.json()["rule"] == "sign.once" and "+08:00" in again.json()["detail"]
            assert requests.post(f"{url}/{order_no}/reply", json={"text": ""}, headers=auth,
                                 timeout=30).status_code == 422
            replied = requests.post(f"{url}/{order_no}/reply", json={"text": "已核实并处理，已联系来电人"},
                                    headers=auth, timeout=30)
            assert replied.status_code == 200, replied.text
            assert replied.json()["round"] == 0 and replied.json()["sent"] is True
            twice = requests.post(f"{url}/{order_no}/reply", json={"text": "再答一次"}, headers=auth, timeout=30)
            assert twice.status_code == 409 and twice.json()["rule"] == "reply.open_only"
            queue = requests.get(url, params={"status": "replied"}, headers=auth, timeout=30).json()["orders"]
            assert [o["order_no"] for o in queue] == [order_no]

        # Tongban sends the signature and the reply to the platform, once each (the API's steps are stamped with
        # the real time, so the outbox is drained at the real time)
        later = datetime.now(BEIJING) + timedelta(minutes=1)
        hotline_clock(sandbox, later)
        # (the gateway sealed the ledger with its keys when it started: the steps it queued are opened with them)
        deliver(engine, "hotline", client, now=later, pii=gw.pii)
        deliver(engine, "hotline", client, now=later + timedelta(minutes=5), pii=gw.pii)
        received = hotline_platform(sandbox)["received"]
        assert received.get(f"qs:{order_no}") == 1 and received.get(f"df:{order_no}:0") == 1
        with engine.connect() as conn:
            steps = Counter(r.outcome for r in conn.execute(select(audit_log.c.outcome)
                                                            .where(audit_log.c.action == "workorders")))
        assert steps["signed"] == 1 and steps["replied"] == 1 and steps["read"] == 1 and steps["listed"] >= 2
