"""Street-office intake points (街道便民服务中心) and the items they take for any district (全城通办).

The seven offices accept applications for items handled by a department elsewhere (民政 for 高龄老人津贴);
the hall records which office took the case (``intake_office``). ``TONGBAN_ITEMS`` are items the departments
handle that the offices may take; they are kept out of ``CIVIL_ITEMS`` so the civil system's own generated
cases stay what they were.
"""

from __future__ import annotations

from .vocab import Item

__all__ = ["STREET_OFFICES", "TONGBAN_ITEMS", "office"]

# code, name, division (GB/T 2260)
STREET_OFFICES: tuple[tuple[str, str, str], ...] = (
    ("JN370102-QCL", "历下区泉城路街道便民服务中心", "370102"),
    ("JN370102-DM", "历下区大明湖街道便民服务中心", "370102"),
    ("JN370103-DG", "市中区大观园街道便民服务中心", "370103"),
    ("JN370104-ZS", "槐荫区振兴街街道便民服务中心", "370104"),
    ("JN370105-BY", "天桥区北园街道便民服务中心", "370105"),
    ("JN370112-HS", "历城区洪家楼街道便民服务中心", "370112"),
    ("JN370113-WD", "长清区文昌街道便民服务中心", "370113"),
)

TONGBAN_ITEMS: tuple[Item, ...] = (
    Item("高龄老人津贴发放", "000105101000", "2", 10, 20, None, "person", ("申请表", "户口簿", "银行卡"), 1),
    Item("最低生活保障审核确认", "000105102000", "2", 20, 30, None, "person",
         ("申请书", "家庭收入证明", "户口簿"), 1),
)


def office(code: str) -> dict[str, str] | None:
    """The hall's record of an intake office: ``{"code", "name", "area"}``."""
    for c, name, division in STREET_OFFICES:
        if c == code:
            return {"code": c, "name": name, "area": division}
    return None
