"""The life of one case in neutral terms: who applied for what, the steps, the special procedures, the end.

Each system renders a ``Story`` in its own vocabulary (civil's camelCase and legacy codes, the registry's
pinyin and Shandong codes). Times are laid out forwards and then shifted so that the last event falls exactly
on the record's change time: applied <= accepted <= steps <= finished always holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from .people import Party
from .prng import between, pick
from .vocab import Item

__all__ = ["Step", "Special", "Story", "Outcome", "build_story", "promise_time", "OUTCOME_REASONS"]

# Neutral outcomes; None means the case is still in progress.
Outcome = str  # "issued" | "denied" | "void" | "deleted" | "referred" | "returned" | "not_accepted" | "timeout_rejected"

OUTCOME_REASONS: dict[str, tuple[str, ...]] = {
    "denied": ("拟任负责人不符合规定条件，不予许可", "业务范围与已登记组织重复，不予许可",
               "申请材料存在虚假内容，不予许可", "不符合法定条件，不予许可"),
    "void": ("重复录入，作废处理", "申请人申请撤销，作废处理"),
    "deleted": ("误录入，删除", "测试数据，删除"),
    "referred": ("属上级机关管辖，转报办理",),
    "returned": ("申请人逾期未补正材料，予以退件", "申请材料与登记簿记载不一致，予以退回",
                 "存在查封登记，不能办理，予以退回"),
    "not_accepted": ("申请事项不属于本机关职权范围，不予受理", "申请材料不齐全且申请人拒绝补正，不予受理"),
    "timeout_rejected": ("申请人未在规定期限内补正材料，驳回申请",),
}

_DAY = 86400


@dataclass
class Step:
    name: str
    action: str  # neutral: SL 受理, CB 承办, SH 审核, PZ 批准
    start: int
    end: int
    handler: str
    opinion: str


@dataclass
class Special:
    type: str
    reason: str
    start: int
    end: int | None
    result: str | None


@dataclass
class Story:
    index: int
    item: Item
    parties: list[Party]
    apply: int
    accept: int
    promise: int
    steps: list[Step]
    specials: list[Special]
    outcome: Outcome | None
    finish: int | None
    reason: str | None
    cert_name: str | None
    cert_no: str | None
    materials: list[tuple[str, str, int]]
    handler: str
    summary: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def shift(self, delta: int) -> None:
        self.apply += delta
        self.accept += delta
        self.promise += delta
        if self.finish is not None:
            self.finish += delta
        for s in self.steps:
            s.start += delta
            s.end += delta
        for p in self.specials:
            p.start += delta
            if p.end is not None:
                p.end += delta


def promise_time(accept: int, days: int) -> int:
    """Working days become calendar days (x 7/5); the promise falls at 17:00 Beijing time on that day."""
    if days <= 0:
        return accept
    due = accept + -(-days * 7 // 5) * _DAY
    day_start = (due + 8 * 3600) // _DAY * _DAY - 8 * 3600
    return day_start + 17 * 3600


_CHAIN = (("承办", "CB", "经审查，申请材料真实有效，符合法定条件，建议予以办理"),
          ("审核", "SH", "同意承办意见"),
          ("批准", "PZ", "同意，准予办理"))


def build_story(
    rng: random.Random,
    index: int,
    item: Item,
    parties: list[Party],
    outcome: Outcome | None,
    last_event: int,
    staff: tuple[str, ...],
    cert_no: Callable[[random.Random, int], str],
) -> Story:
    """Lay out a case whose last event happens at ``last_event`` (epoch seconds)."""
    instant = item.case_type == "1"
    gap = (lambda: between(rng, 60, 1200)) if instant else (lambda: between(rng, 1800, 3 * _DAY))
    work = (lambda: between(rng, 60, 900)) if instant else (lambda: between(rng, 300, 4 * 3600))
    handler = pick(rng, staff)
    apply = 0
    accept = apply + (between(rng, 120, 3600) if instant else between(rng, 600, 3 * _DAY))
    sl_end = accept + between(rng, 30, 600)
    steps = [Step("受理", "SL", accept, sl_end, handler, "材料齐全，符合法定形式，予以受理")]
    specials: list[Special] = []
    finish: int | None = None
    reason: str | None = None
    t = sl_end

    def add_chain(n: int, last_opinion: str | None = None) -> None:
        nonlocal t
        for k in range(n):
            name, action, opinion = _CHAIN[k]
            start = t + gap()
            end = start + work()
            if last_opinion and k == n - 1:
                opinion = last_opinion
            steps.append(Step(name, action, start, end, pick(rng, staff) if k else handler, opinion))
            t = end

    def add_correction(late: bool) -> None:
        nonlocal t
        start = t + between(rng, 600, _DAY)
        end = start + between(rng, 2, 15) * _DAY
        specials.append(Special("补正", pick(rng, ("申请表填写不完整", "缺少住所使用证明", "身份证明材料不清晰",
                                                   "章程条款不符合示范文本")), start, end,
                                "申请人逾期未补正" if late else "申请人已补正材料"))
        t = end

    if outcome is None:
        done = between(rng, 0, 2)
        if not instant and rng.random() < 0.15:
            add_correction(False)
        add_chain(done)
        if not instant and rng.random() < 0.2:
            specials.append(Special("补正", "材料需补充说明", t + between(rng, 600, _DAY), None, None))
            t = specials[-1].start
    elif outcome == "not_accepted":
        reason = pick(rng, OUTCOME_REASONS[outcome])
        steps[0].opinion = reason
        finish = t
    elif outcome in ("returned", "timeout_rejected"):
        add_chain(1, "申请材料不齐全，需补正")
        add_correction(True)
        reason = pick(rng, OUTCOME_REASONS[outcome])
        finish = t + between(rng, 600, _DAY)
    else:
        if not instant and rng.random() < 0.12:
            add_correction(False)
        if outcome == "issued":
            add_chain(3)
        elif outcome == "denied":
            reason = pick(rng, OUTCOME_REASONS[outcome])
            add_chain(3, reason)
        else:  # void, deleted, referred: the case stopped part-way
            add_chain(between(rng, 0, 2))
            reason = pick(rng, OUTCOME_REASONS.get(outcome, ("办结",)))
        finish = t + (between(rng, 0, 300) if instant else between(rng, 60, 3600))

    cert_name = cert = None
    if outcome == "issued" and item.cert:
        cert_name, cert = item.cert, cert_no(rng, index)
    mats = []
    for name in item.materials[: between(rng, min(2, len(item.materials)), len(item.materials))]:
        r = rng.random()
        mats.append((name, "1" if r < 0.5 else "2" if r < 0.9 else "3", between(rng, 1, 3)))
    story = Story(index, item, parties, apply, accept, promise_time(accept, item.promise_days), steps, specials,
                  outcome, finish, reason, cert_name, cert, mats, handler)
    last = finish if finish is not None else t
    story.shift(last_event - last)
    # The promise follows the shifted acceptance (it is a calendar date, not a duration).
    story.promise = promise_time(story.accept, item.promise_days)
    return story
