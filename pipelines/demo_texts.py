"""What the demo's cases say: findings per category, the category and severity mixes,
the service requests and the notes of each step."""

from __future__ import annotations

from governance.catalog import Category, Outcome, Severity, Trade

_T = Trade
_C = Category
SHOP_FINDINGS: dict[Category, tuple[tuple[str, str], ...]] = {
    _C.FUMES: (("油烟直排", "{shop}厨房油烟未经净化直排，周边住户反映气味大。"),
               ("油烟净化器未清洗", "{shop}油烟净化器长期未清洗，排烟管道油污积聚。"),
               ("露天烧烤油烟", "{shop}在店外露天烧烤，油烟扰民。")),
    _C.GAS: (("液化气瓶未固定", "{shop}后厨液化气钢瓶未固定，且距灶具过近。"),
             ("燃气软管老化", "{shop}燃气软管老化开裂，存在泄漏风险。"),
             ("燃气报警器失效", "{shop}燃气报警器未通电，无法报警。"),
             ("气瓶存放地下室", "{shop}将备用液化气瓶存放在地下储物间。")),
    _C.ELECTRICITY: (("私拉电线", "{shop}门口私拉临时电线为灯箱供电。"),
                     ("电动车室内充电", "{shop}店内发现电动自行车充电。"),
                     ("插排串接超负荷", "{shop}多个插排串接使用，大功率电器同时运行。"),
                     ("配电箱未关闭", "{shop}配电箱门敞开，线路裸露。")),
    _C.FIRE_EXIT: (("消防通道堵塞", "{shop}后门消防通道堆放纸箱杂物。"),
                   ("安全出口上锁", "{shop}营业期间安全出口上锁。"),
                   ("灭火器过期", "{shop}灭火器压力不足，已过检验期。")),
    _C.SANITATION: (("门前卫生差", "{shop}门前垃圾未及时清理，不符合门前三包要求。"),
                    ("垃圾未分类", "{shop}厨余垃圾与其他垃圾混投。"),
                    ("污水外排", "{shop}将清洗污水直接倒入路边雨水口。")),
    _C.ROAD_OCCUPATION: (("占道经营", "{shop}在店外人行道摆放桌椅经营。"),
                         ("货物出店", "{shop}货架摆出门外，占用人行道。"),
                         ("广告牌占道", "{shop}在盲道上摆放立式广告牌。")),
    _C.NOISE: (("夜间噪音扰民", "{shop}夜间音响声音过大，附近居民投诉。"),
               ("外放音响招揽", "{shop}门口外放高音喇叭招揽顾客。")),
    _C.AMUSEMENT_RIDE: (("游乐设施无人值守", "{shop}设备运行期间操作人员离岗。"),
                        ("检验标志过期", "{shop}设备检验合格标志已过有效期。")),
    _C.CONSTRUCTION: (("装修施工超时", "{shop}装修在午休时段施工，噪音扰民。"),
                      ("装修垃圾乱堆", "{shop}装修垃圾堆放于人行道未清运。")),
    _C.OTHER: (("招牌松动", "{shop}招牌固定件松动，有坠落风险。"),
               ("遮阳棚破损", "{shop}遮阳棚支架锈蚀破损。")),
}
STREET_FINDINGS: dict[Category, tuple[tuple[str, str], ...]] = {
    _C.ROAD_OCCUPATION: (("流动摊贩占道", "{street}有流动摊贩占道经营，影响通行。"),
                         ("车辆乱停放", "{street}机动车、电动车乱停放，占用人行道。")),
    _C.SANITATION: (("垃圾堆积", "{street}垃圾桶满溢，垃圾未及时清运。"),
                    ("路面油污", "{street}路面油污严重，行人易滑倒。")),
    _C.NOISE: (("广场舞噪音", "{street}夜间广场舞音响过大。"),
               ("夜市喧哗", "{street}夜市收摊后深夜仍有喧哗。")),
    _C.FIRE_EXIT: (("巷道堵塞", "{street}被杂物和电动车堵塞，消防车无法通行。"),),
    _C.OTHER: (("路灯不亮", "{street}路灯损坏，夜间照明不足。"),
               ("井盖破损", "{street}井盖破损松动，存在安全隐患。")),
}
STREET_CATEGORY_MIX = {_C.ROAD_OCCUPATION: 35, _C.SANITATION: 30, _C.NOISE: 15, _C.FIRE_EXIT: 10, _C.OTHER: 10}


def category_mix(trade: Trade) -> dict[Category, float]:
    if trade in (Trade.CATERING, Trade.SNACKS):
        return {_C.FUMES: 38, _C.GAS: 10, _C.SANITATION: 12, _C.ROAD_OCCUPATION: 15, _C.FIRE_EXIT: 10,
                _C.ELECTRICITY: 10, _C.OTHER: 5}
    if trade is Trade.TEA:
        return {_C.GAS: 15, _C.ROAD_OCCUPATION: 30, _C.SANITATION: 20, _C.ELECTRICITY: 20, _C.OTHER: 15}
    if trade is Trade.ENTERTAINMENT:
        return {_C.NOISE: 50, _C.FIRE_EXIT: 20, _C.ELECTRICITY: 15, _C.SANITATION: 10, _C.OTHER: 5}
    if trade is Trade.LODGING:
        return {_C.FIRE_EXIT: 30, _C.ELECTRICITY: 30, _C.NOISE: 20, _C.OTHER: 20}
    if trade is Trade.AMUSEMENT:
        return {_C.AMUSEMENT_RIDE: 35, _C.NOISE: 20, _C.ROAD_OCCUPATION: 20, _C.ELECTRICITY: 15, _C.OTHER: 10}
    return {_C.ROAD_OCCUPATION: 35, _C.SANITATION: 25, _C.ELECTRICITY: 20, _C.FIRE_EXIT: 10, _C.OTHER: 10}


_S = Severity
SEVERITY_MIX: dict[Category, dict[Severity, float]] = {
    _C.GAS: {_S.MEDIUM: 30, _S.HIGH: 50, _S.URGENT: 20},
    _C.ELECTRICITY: {_S.LOW: 10, _S.MEDIUM: 50, _S.HIGH: 35, _S.URGENT: 5},
    _C.FIRE_EXIT: {_S.MEDIUM: 50, _S.HIGH: 45, _S.URGENT: 5},
    _C.AMUSEMENT_RIDE: {_S.MEDIUM: 30, _S.HIGH: 50, _S.URGENT: 20},
    _C.CONSTRUCTION: {_S.LOW: 40, _S.MEDIUM: 45, _S.HIGH: 15},
    _C.FUMES: {_S.LOW: 45, _S.MEDIUM: 50, _S.HIGH: 5},
    _C.NOISE: {_S.LOW: 60, _S.MEDIUM: 40},
    _C.SANITATION: {_S.LOW: 75, _S.MEDIUM: 25},
    _C.ROAD_OCCUPATION: {_S.LOW: 65, _S.MEDIUM: 35},
    _C.OTHER: {_S.LOW: 55, _S.MEDIUM: 40, _S.HIGH: 5},
}

# department, category, title, description
SERVICE_REQUESTS = (
    ("城管", _C.ROAD_OCCUPATION, "请求规范流动摊贩", "商户反映{street}流动摊贩占道，影响店铺经营和通行，请求协调处理。"),
    ("城管", _C.SANITATION, "申请增设垃圾桶", "{shop}反映{street}垃圾桶数量不足，请求增设。"),
    ("城管", _C.NOISE, "反映夜间施工噪音", "{shop}反映附近夜间施工噪音，影响住店客人休息。"),
    ("市场监管所", _C.OTHER, "咨询食品经营许可证延续", "{shop}食品经营许可证即将到期，请求指导办理延续手续。"),
    ("市场监管所", _C.OTHER, "反映商品未明码标价", "{shop}反映{street}部分摊位商品未明码标价，请求规范。"),
    ("供电所", _C.ELECTRICITY, "申请线路增容", "{shop}用电负荷大，频繁跳闸，申请线路增容。"),
    ("供电所", _C.ELECTRICITY, "申请检修路灯线路", "{shop}反映{street}路灯线路老化，请求检修。"),
    ("燃气公司", _C.GAS, "申请燃气安全检查", "{shop}申请上门检查燃气管道和报警器。"),
    ("燃气公司", _C.GAS, "申请改用管道燃气", "{shop}申请由瓶装液化气改用管道燃气。"),
    ("社区居委会", _C.NOISE, "请求协调噪音纠纷", "{shop}与楼上住户因营业噪音产生纠纷，请求居委会协调。"),
    ("社区居委会", _C.OTHER, "申请党员经营户亮牌", "{shop}经营者为党员，申请挂牌亮明身份。"),
    ("社区居委会", _C.SANITATION, "申请门前三包责任牌", "{shop}请求补发门前三包责任牌。"),
)

NOTES = {
    "raise": ("巡查发现", "现场拍照取证", "群众反映，现场核实", ""),
    "take_on": ("已通知商户限期整改", "已联系店主，约定整改时间", "已会同物业到场处置", "已开具整改通知书"),
    "resolve": ("商户已整改，拍照留存", "现场已处置完毕", "隐患已消除，待回访", "已更换相关设施"),
    "confirm": ("回访确认整改到位", "回访现场无复发", "回访商户已按要求落实"),
    "reopen": ("回访发现问题仍存在，重新处置", "回访发现整改不彻底", "回访时问题复发"),
}
DISMISS_NOTES = {
    Outcome.DUPLICATE: "与已有案件重复，合并处理",
    Outcome.NO_ACTION_NEEDED: "现场核实无问题，无需处置",
    Outcome.NOT_RESPONSIBLE: "不属本街道职责，已移交主管部门",
}

