"""The provincial catalogue's vocabulary: sectors, item names, materials, legal bases, divisions.

Kept apart from :mod:`sandbox.catalogue` so that the generator reads as a procedure and the words as data.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Sector", "SECTORS", "LEVELS", "DIVISIONS", "VARIANTS", "ITEM_TYPES", "SERVICE_OBJECTS", "CHANNELS"]


@dataclass(frozen=True)
class Sector:
    """One line of government: its code (digits 4–6 of the 基本编码), its department at each level, its items."""

    code: str  # 130–137: clear of the codes the department systems of the sandbox use (114–120)
    ministry: str
    dept: str  # the department's name below the national level (prefixed with the division's name)
    org: str  # two characters that make the department's organisation code distinct
    law: str
    names: tuple[str, ...]
    materials: tuple[str, ...]


SECTORS = (
    Sector("130", "民政部", "民政局", "MZ", "《社会团体登记管理条例》",
           ("社会团体登记", "民办非企业单位登记", "养老机构备案", "慈善组织认定", "婚姻登记", "殡葬设施审批",
            "临时救助申请", "最低生活保障审批"),
           ("登记申请表", "章程", "住所使用证明", "负责人身份证明", "验资报告", "会员名册", "承诺书")),
    Sector("131", "人力资源和社会保障部", "人力资源和社会保障局", "RS", "《中华人民共和国社会保险法》",
           ("失业保险金申领", "就业创业证申领", "社会保障卡补领", "人力资源服务许可", "劳务派遣经营许可",
            "职工退休申请", "技能等级认定", "工伤认定"),
           ("申请表", "居民身份证", "劳动合同", "营业执照", "场所使用证明", "工作人员名册", "近期免冠照片")),
    Sector("132", "国家市场监督管理总局", "市场监督管理局", "SJ", "《中华人民共和国行政许可法》",
           ("食品经营许可", "企业设立登记", "个体工商户登记", "特种设备使用登记", "计量器具检定",
            "广告发布登记", "药品零售许可", "医疗器械经营备案"),
           ("申请书", "营业执照", "法定代表人身份证明", "经营场所证明", "食品安全管理制度", "设备清单", "平面图")),
    Sector("133", "住房和城乡建设部", "住房和城乡建设局", "ZJ", "《建设工程质量管理条例》",
           ("建筑工程施工许可", "商品房预售许可", "建筑业企业资质", "燃气经营许可", "房屋租赁登记备案",
            "城市道路占用审批", "工程竣工验收备案", "物业服务备案"),
           ("申请表", "用地批准文件", "规划许可证", "施工合同", "资金证明", "企业资质证书", "安全生产许可证")),
    Sector("134", "交通运输部", "交通运输局", "JT", "《中华人民共和国道路运输条例》",
           ("道路运输经营许可", "出租汽车经营许可", "机动车维修备案", "驾驶员培训许可", "超限运输许可",
            "道路货运从业资格", "公路占用许可", "客运班线审批"),
           ("申请书", "车辆行驶证", "驾驶员从业资格证", "安全管理制度", "停车场地证明", "营业执照", "车辆技术档案")),
    Sector("135", "国家卫生健康委员会", "卫生健康委员会", "WJ", "《医疗机构管理条例》",
           ("医疗机构执业登记", "医师执业注册", "护士执业注册", "公共场所卫生许可", "放射诊疗许可",
            "母婴保健技术服务许可", "出生医学证明补发", "饮用水供水单位卫生许可"),
           ("申请书", "执业许可证", "资格证书", "体检证明", "场所平面图", "设备清单", "卫生管理制度")),
    Sector("136", "教育部", "教育局", "JY", "《中华人民共和国民办教育促进法》",
           ("民办学校设立", "教师资格认定", "校外培训机构审批", "学历证明补办", "幼儿园办园许可",
            "中小学转学", "学生资助申请", "教师资格证补发"),
           ("申请表", "学历证书", "身份证明", "体检表", "办学场所证明", "章程", "师资名册")),
    Sector("137", "公安部", "公安局", "GA", "《中华人民共和国居民身份证法》",
           ("居民身份证申领", "户口迁移", "出生登记", "临时居住证申领", "养犬登记", "旅馆业特种行业许可",
            "公章刻制备案", "大型活动安全许可"),
           ("申请表", "户口簿", "居民身份证", "出生医学证明", "房屋产权证明", "照片", "安全工作方案")),
)

VARIANTS = ("新办", "变更", "延续", "注销")
"""Sub-items: a group's name is a sector's item name with one of these, so names stay distinct."""

LEVELS = {1: "国家级", 2: "省级", 3: "市级", 4: "县级"}
"""行使层级 as this catalogue writes it (words, not the national codes)."""

DIVISIONS = {
    1: (("100000", "国家"),),
    2: (("370000", "山东省"),),
    3: (("370100", "济南市"),),
    4: (("370102", "历下区"), ("370103", "市中区"), ("370104", "槐荫区"), ("370105", "天桥区"), ("370112", "历城区")),
}

ITEM_TYPES = ("行政许可", "行政确认", "行政给付", "其他行政权力", "公共服务")
SERVICE_OBJECTS = ("自然人", "企业法人", "事业单位法人", "社会组织法人", "非法人企业")
CHANNELS = ("窗口办理", "网上办理", "快递送达")
