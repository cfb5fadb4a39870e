"""Places, brands and name parts the demo investigation is built from (private tables).

Reference coordinates are approximate WGS-84 centres of real Chinese cities and districts
(for Putian Licheng, Guangzhou Baiyun, Yiwu and Jinjiang, the positions their Wikipedia
infoboxes give). Workshop and hub centres are chosen 1.5-4.5 km from those references, in
the named district or city; compound addresses, park names and road names are synthetic.

Three busy legitimate market districts are centred near real trading quarters (Shenzhen
Huaqiangbei, Dongguan Humen; for Quanzhou, 1.4 km from the city's reference centre in
Fengze); a small workshop of 7-12 accounts hides 300-350 m from each centre, among many
independent sellers' stalls and stockrooms.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    """A real city: where a seller is registered, keeps a warehouse or scatters waybills."""

    key: str
    name_en: str
    short_cn: str  # how shop names say the place: 莆田, 白云, 义乌
    prefix_cn: str  # province + city as written at the head of an address
    districts: tuple[str, ...]
    lat: float  # reference centre, WGS-84
    lon: float
    id_region: str  # 6-digit administrative code heading resident ID numbers
    spread_m: float  # how far from the centre warehouses and scattered pick-ups lie (1 sigma)


@dataclass(frozen=True)
class MarketDistrict:
    """A busy legitimate trading quarter: many independent sellers keep warehouses in it.

    ``seller_share`` of the background sellers keep their warehouses here, evenly spread
    within ``radius_m`` of the centre, and together ship ``volume_share`` of the
    background's waybills: many small shops, so the district is evenly busy and a small
    workshop inside does not stand out by density alone.
    """

    name: str
    city: City
    district_cn: str  # the district written in the warehouses' addresses
    trade: str  # the category most of its shops sell (a key of CATEGORIES)
    lat: float  # chosen centre, WGS-84
    lon: float
    radius_m: float
    seller_share: float  # share of the background sellers
    volume_share: float  # share of the background's waybills
    reference: str


@dataclass(frozen=True)
class Workshop:
    """A planted production site: a compound whose few loading points repeat exactly."""

    name: str
    city: City
    district_cn: str
    address_cn: str  # compound address, points add a building number
    lat: float  # chosen centre, WGS-84
    lon: float
    reference: str  # the real place the centre was chosen near
    district: MarketDistrict | None = None  # the busy market district it hides in, if any


@dataclass(frozen=True)
class Ring:
    """A counterfeit ring: linked accounts shipping from their workshop(s)."""

    network: str
    workshops: tuple[Workshop, ...]  # first is the main one
    workshop_share: tuple[float, ...]  # share of the ring's accounts per workshop
    brands: tuple[str, ...]
    size: tuple[int, int]  # inclusive bounds on the number of accounts
    category: str
    platforms: tuple[str, ...]
    volume_share: float  # share of all ring waybills
    pooled_id_documents: bool  # accounts opened on a small pool of fake ID cards


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# key, shop-name short form, English name, address head, districts, reference lat / lon
# (WGS-84), ID region code, spread of warehouses and scattered pick-ups (1 sigma, metres)
_CITY_TABLE = """
putian     莆田 Putian    福建省莆田市       荔城区,城厢区,涵江区    25.4526 119.0078  350304 3000
guangzhou  白云 Guangzhou 广东省广州市       白云区                  23.1574 113.2732  440111 3500
yiwu       义乌 Yiwu      浙江省金华市义乌市 稠城街道,北苑街道      29.30694 120.07528 330782 3500
jinjiang   晋江 Jinjiang  福建省泉州市晋江市 陈埭镇,池店镇,青阳街道 24.8200 118.5700  350582 3000
shenzhen   深圳 Shenzhen  广东省深圳市       宝安区,龙华区,龙岗区    22.5431 114.0579  440306 8000
dongguan   东莞 Dongguan  广东省东莞市       长安镇,虎门镇,厚街镇    23.0207 113.7518  441900 8000
hangzhou   杭州 Hangzhou  浙江省杭州市       余杭区,萧山区,滨江区    30.2741 120.1551  330110 8000
shanghai   上海 Shanghai  上海市             松江区,嘉定区,青浦区    31.2304 121.4737  310117 9000
quanzhou   泉州 Quanzhou  福建省泉州市       丰泽区,鲤城区,洛江区    24.8741 118.6757  350503 5000
xiamen     厦门 Xiamen    福建省厦门市       湖里区,集美区,同安区    24.4798 118.0894  350206 5000
wenzhou    温州 Wenzhou   浙江省温州市       鹿城区,瓯海区,龙湾区    27.9939 120.6994  330302 5000
ningbo     宁波 Ningbo    浙江省宁波市       鄞州区,北仑区,海曙区    29.8683 121.5440  330212 6000
suzhou     苏州 Suzhou    江苏省苏州市       吴中区,相城区,姑苏区    31.2990 120.5853  320506 6000
foshan     佛山 Foshan    广东省佛山市       南海区,顺德区,禅城区    23.0215 113.1214  440605 6000
shantou    汕头 Shantou   广东省汕头市       澄海区,潮阳区,龙湖区    23.3541 116.6819  440515 5000
chengdu    成都 Chengdu   四川省成都市       武侯区,成华区,双流区    30.5728 104.0668  510107 8000
wuhan      武汉 Wuhan     湖北省武汉市       江汉区,洪山区,东西湖区  30.5928 114.3055  420103 8000
zhengzhou  郑州 Zhengzhou 河南省郑州市       金水区,二七区,管城回族区  34.7466 113.6253  410105 7000
tianjin    天津 Tianjin   天津市             西青区,津南区,东丽区    39.1422 117.1767  120111 8000
"""


def _cities(table: str) -> dict[str, City]:
    cities = {}
    fields = table.split()  # nine whitespace-separated fields per city
    for i in range(0, len(fields), 9):
        key, short, en, head, districts, lat, lon, code, spread = fields[i : i + 9]
        cities[key] = City(
            key,
            en,
            short,
            head,
            tuple(districts.split(",")),
            float(lat),
            float(lon),
            code,
            float(spread),
        )
    return cities


CITIES = _cities(_CITY_TABLE)
PUTIAN, GUANGZHOU, YIWU, JINJIANG = (CITIES[k] for k in ("putian", "guangzhou", "yiwu", "jinjiang"))
BACKGROUND_CITIES: tuple[City, ...] = tuple(
    c for c in CITIES.values() if c not in (PUTIAN, GUANGZHOU, YIWU, JINJIANG)
)
# relative number of background sellers per city, in BACKGROUND_CITIES order
BACKGROUND_WEIGHTS: tuple[float, ...] = (14, 9, 12, 12, 6, 5, 6, 5, 6, 7, 4, 4, 4, 3, 3)

PUTIAN_WORKSHOP = Workshop(
    name="Putian Licheng sports-shoe workshop",
    city=PUTIAN,
    district_cn="荔城区",
    address_cn="福建省莆田市荔城区荔园工业区鞋材路8号",
    lat=25.4470,
    lon=119.0195,
    reference="Licheng District, Putian, Fujian: 25.4364 N, 119.0086 E",
)
BAIYUN_WORKSHOP = Workshop(
    name="Guangzhou Baiyun leather-bag workshop",
    city=GUANGZHOU,
    district_cn="白云区",
    address_cn="广东省广州市白云区石岗皮具工业园东街16号",
    lat=23.1890,
    lon=113.2570,
    reference="Baiyun District, Guangzhou, Guangdong: 23.1574 N, 113.2732 E",
)
BAIYUN_WORKSHOP_2 = Workshop(
    name="Guangzhou Baiyun bag finishing workshop",
    city=GUANGZHOU,
    district_cn="白云区",
    address_cn="广东省广州市白云区鹤岗村北路3号",
    lat=23.2140,
    lon=113.2700,
    reference="Baiyun District, Guangzhou, Guangdong: 23.1574 N, 113.2732 E",
)
YIWU_WORKSHOP = Workshop(
    name="Yiwu cosmetics refilling workshop",
    city=YIWU,
    district_cn="稠江街道",
    address_cn="浙江省金华市义乌市稠江街道杨村工业区二路27号",
    lat=29.2760,
    lon=120.0490,
    reference="Yiwu, Zhejiang (city seat): 29.30694 N, 120.07528 E",
)
JINJIANG_WORKSHOP = Workshop(
    name="Jinjiang Chendai shoe and apparel workshop",
    city=JINJIANG,
    district_cn="陈埭镇",
    address_cn="福建省泉州市晋江市陈埭镇鞋都工业区四路11号",
    lat=24.8310,
    lon=118.5950,
    reference="Jinjiang, Fujian: 24.8200 N, 118.5700 E",
)

# busy legitimate market districts, each with a small workshop hidden in it
HUAQIANGBEI = MarketDistrict(
    name="Shenzhen Huaqiangbei electronics market district",
    city=CITIES["shenzhen"],
    district_cn="福田区",
    trade="electronics",
    lat=22.5455,
    lon=114.0845,
    radius_m=2_200.0,
    seller_share=0.15,
    volume_share=0.10,
    reference="Huaqiangbei, Futian District, Shenzhen, Guangdong: 22.546 N, 114.085 E",
)
HUMEN = MarketDistrict(
    name="Dongguan Humen garment market district",
    city=CITIES["dongguan"],
    district_cn="虎门镇",
    trade="apparel",
    lat=22.8150,
    lon=113.6730,
    radius_m=2_200.0,
    seller_share=0.15,
    volume_share=0.10,
    reference="Humen Town, Dongguan, Guangdong: 22.815 N, 113.673 E",
)
FENGZE = MarketDistrict(
    name="Quanzhou Fengze shoe and apparel trading district",
    city=CITIES["quanzhou"],
    district_cn="丰泽区",
    trade="shoes",
    lat=24.8800,
    lon=118.6640,
    radius_m=2_200.0,
    seller_share=0.15,
    volume_share=0.10,
    reference="Quanzhou, Fujian (reference centre): 24.8741 N, 118.6757 E",
)
MARKET_DISTRICTS: tuple[MarketDistrict, ...] = (HUAQIANGBEI, HUMEN, FENGZE)

HUAQIANGBEI_WORKSHOP = Workshop(
    name="Shenzhen Huaqiangbei earphone refurbishing workshop",
    city=CITIES["shenzhen"],
    district_cn="福田区",
    address_cn="广东省深圳市福田区华强北街道华新电子工业区三路12号",
    lat=22.5475,
    lon=114.0825,
    reference=HUAQIANGBEI.reference,
    district=HUAQIANGBEI,
)
HUMEN_WORKSHOP = Workshop(
    name="Dongguan Humen garment relabelling workshop",
    city=CITIES["dongguan"],
    district_cn="虎门镇",
    address_cn="广东省东莞市虎门镇龙眼服装工业区五路6号",
    lat=22.8130,
    lon=113.6755,
    reference=HUMEN.reference,
    district=HUMEN,
)
FENGZE_WORKSHOP = Workshop(
    name="Quanzhou Fengze sneaker workshop",
    city=CITIES["quanzhou"],
    district_cn="丰泽区",
    address_cn="福建省泉州市丰泽区东湖街道鞋服工业区六路21号",
    lat=24.8820,
    lon=118.6615,
    reference=FENGZE.reference,
    district=FENGZE,
)

RINGS: tuple[Ring, ...] = (
    Ring(
        network="putian-ring",
        workshops=(PUTIAN_WORKSHOP,),
        workshop_share=(1.0,),
        brands=("Nike", "Adidas"),
        size=(40, 40),
        category="shoes",
        platforms=("1688", "Taobao", "AliExpress"),
        volume_share=0.39,
        pooled_id_documents=True,
    ),
    Ring(
        network="baiyun-ring",
        workshops=(BAIYUN_WORKSHOP, BAIYUN_WORKSHOP_2),
        workshop_share=(0.65, 0.35),
        brands=("Louis Vuitton", "Gucci"),
        size=(18, 28),
        category="bags",
        platforms=("AliExpress", "1688", "Taobao"),
        volume_share=0.2735,
        pooled_id_documents=False,
    ),
    Ring(
        network="yiwu-ring",
        workshops=(YIWU_WORKSHOP,),
        workshop_share=(1.0,),
        brands=("Chanel", "SK-II", "La Mer"),
        size=(10, 16),
        category="cosmetics",
        platforms=("Pinduoduo", "Taobao"),
        volume_share=0.17,
        pooled_id_documents=False,
    ),
    Ring(
        network="jinjiang-ring",
        workshops=(JINJIANG_WORKSHOP,),
        workshop_share=(1.0,),
        brands=("Adidas", "New Balance", "The North Face"),
        size=(8, 12),
        category="apparel",
        platforms=("Taobao", "Pinduoduo", "1688"),
        volume_share=0.15,
        pooled_id_documents=False,
    ),
    # small rings in busy market districts: a few hundred waybills at 200,000
    Ring(
        network="huaqiangbei-ring",
        workshops=(HUAQIANGBEI_WORKSHOP,),
        workshop_share=(1.0,),
        brands=("Apple", "Beats"),
        size=(7, 12),
        category="electronics",
        platforms=("Taobao", "Pinduoduo", "AliExpress"),
        volume_share=0.0055,
        pooled_id_documents=False,
    ),
    Ring(
        network="humen-ring",
        workshops=(HUMEN_WORKSHOP,),
        workshop_share=(1.0,),
        brands=("Moncler", "Burberry"),
        size=(7, 12),
        category="apparel",
        platforms=("Taobao", "1688", "Pinduoduo"),
        volume_share=0.0055,
        pooled_id_documents=False,
    ),
    Ring(
        network="fengze-ring",
        workshops=(FENGZE_WORKSHOP,),
        workshop_share=(1.0,),
        brands=("Asics", "Puma"),
        size=(7, 12),
        category="shoes",
        platforms=("Pinduoduo", "Taobao", "1688"),
        volume_share=0.0055,
        pooled_id_documents=False,
    ),
)


@dataclass(frozen=True)
class Hub:
    """A real logistics hub: thousands of legitimate parcels from a few dock points."""

    name: str
    city: City
    address_cn: str
    lat: float
    lon: float
    hotline_digits: str  # the logistics firm's 400 number, shared by every seller there
    n_sellers: int
    reference: str


HUB = Hub(
    name="Yiwu international express logistics park",
    city=YIWU,
    address_cn="浙江省金华市义乌市福田街道国际物流园A区",
    lat=29.3345,
    lon=120.1020,
    hotline_digits="4006558196",
    n_sellers=300,
    reference="Yiwu, Zhejiang (city seat): 29.30694 N, 120.07528 E",
)

PLATFORMS = ("Taobao", "Tmall", "1688", "AliExpress", "Pinduoduo")
PLATFORM_WEIGHTS = (0.34, 0.16, 0.18, 0.14, 0.18)

GENERIC_BRAND = "Generic (no brand)"
# CNY a genuine unit sells for; counterfeits sell at a fraction of it
BRAND_PRICE_CNY: dict[str, float] = {
    "Nike": 699.0,
    "Adidas": 599.0,
    "New Balance": 649.0,
    "The North Face": 899.0,
    "Louis Vuitton": 12_800.0,
    "Gucci": 9_800.0,
    "Chanel": 980.0,
    "SK-II": 1_240.0,
    "La Mer": 1_850.0,
    "Li-Ning": 399.0,
    "Anta": 329.0,
    "Xtep": 279.0,
    "Peak": 259.0,
    "Perfect Diary": 89.0,
    "Proya": 169.0,
    "Apple": 1_299.0,
    "Beats": 1_499.0,
    "Moncler": 9_600.0,
    "Burberry": 6_900.0,
    "Asics": 799.0,
    "Puma": 599.0,
    GENERIC_BRAND: 39.0,
}
# brands a legitimate (authorised) seller may carry
LEGIT_BRANDS = ("Li-Ning", "Anta", "Xtep", "Peak", "Perfect Diary", "Proya", "Nike", "Adidas")
COSMETIC_BRANDS = frozenset({"Perfect Diary", "Proya", "Chanel", "SK-II", "La Mer"})

CATEGORIES: dict[str, tuple[str, str]] = {  # key -> (Chinese trade word, English trade word)
    "shoes": ("鞋业", "Footwear"),
    "bags": ("皮具", "Leather"),
    "cosmetics": ("美妆", "Beauty"),
    "apparel": ("服饰", "Apparel"),
    "general": ("百货", "General Merchandise"),
    "home": ("家居", "Home Goods"),
    "toys": ("玩具", "Toys"),
    "electronics": ("数码", "Electronics"),
    "stationery": ("文具", "Stationery"),
}
LEGIT_CATEGORIES = _words("general home toys electronics stationery apparel shoes cosmetics bags")

NAME_PREFIX_CN = _words(
    "鑫源 恒达 佳美 锦程 华盛 顺发 宏图 金诚 永兴 嘉禾 盛世 优品 新潮 美森 富康 "
    "隆昌 瑞丰 汇通 兴旺 捷达 天成 万家 和顺 海诺 星辰 博雅 久久 尚品 悦享 启航"
)
NAME_PREFIX_EN = _words(
    "Golden Hengda Jiamei Jincheng Huasheng Shunfa Hongtu Yongxing Everbright "
    "Sunrise Oriental Prime Lucky-Star Fortune Harmony Silverline Evergreen "
    "Bluewave Tianyi Kaida"
)
STORE_CN = _words("旗舰店 专营店 工厂店 专卖店 批发商行 贸易有限公司 商贸有限公司 精品店")
STORE_EN = (
    "Trading Co.",
    "Official Store",
    "Factory Store",
    "Supply Co., Ltd.",
    "Wholesale",
    "Import & Export Co.",
    "Store",
)

ROADS = _words(
    "工业路 兴业路 创业路 振兴路 民营路 环城路 迎宾大道 学园路 建设路 人民路 "
    "中山路 解放路 新华路 文化路 长安路 发展大道 科技路 光明路 东环路 西环路 "
    "商贸路 物流大道"
)
SURNAMES = _words("zhang wang li liu chen yang huang zhao wu zhou xu sun ma zhu hu lin guo he")
GIVEN = _words("wei fang na min jing lei qiang jun yan hui hao xin jie tao ming hong li peng")
EMAIL_DOMAINS = _words(
    "qq.com 163.com 126.com sina.com foxmail.com gmail.com outlook.com aliyun.com"
)
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 155 156 157 158 159 177 180 "
    "181 182 183 185 186 187 188 189 191 198 199"
)
CARD_BINS = ("622202", "622848", "621700", "622588", "621226", "622609", "623668", "621483")
LABS = ("brand IP team", "authorised test-buy agent", "platform IP protection unit")

HOSTILE_RING_NAMES = ("<img src=x onerror=alert(1)>", "${alert(1)}")
HOSTILE_BACKGROUND_NAME = "</script><script>alert(1)</script>"
