"""The canonical tables: the one answer to "what is a shipment row?".

Each table's fields, types, key, accepted values and header synonyms (:class:`TableSpec`,
:data:`TABLES`), the vocabularies (verdicts, evidence and location kinds, geocoding
precisions, review statuses) and the key columns. Intake checks rows against it, the case
stores it, the views show it; nothing else declares a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "EVENT_KINDS",
    "EVIDENCE_KINDS",
    "KEY_COLUMNS",
    "LOCATION_KINDS",
    "PRECISIONS",
    "REVIEW_STATUSES",
    "TABLES",
    "TABLE_NAMES",
    "VERDICTS",
    "TableSpec",
]

VERDICTS = ("counterfeit", "genuine", "inconclusive")
EVIDENCE_KINDS = ("test_buy", "complaint", "takedown")
LOCATION_KINDS = ("warehouse", "return", "registered")
PRECISIONS = ("exact", "street", "district", "city", "province")


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its fields, their types, the key and header synonyms."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    key: str | None = None
    ids: tuple[str, ...] = ()  # identifier fields: surrounding spaces are trimmed
    types: dict[str, str] = field(default_factory=dict)  # field -> float|int|date|lat|lon
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # () accepts any value
    synonyms: dict[str, str] = field(default_factory=dict)  # casefolded header -> field
    address: str | None = None  # the field a location can be geocoded from

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def has_points(self) -> bool:
        return "lat" in self.fields


_COMMON_SYNONYMS = {
    "店铺id": "seller_id",
    "店铺编号": "seller_id",
    "卖家id": "seller_id",
    "商家id": "seller_id",
    "shop_id": "seller_id",
    "seller": "seller_id",
    "经度": "lon",
    "longitude": "lon",
    "lng": "lon",
    "纬度": "lat",
    "latitude": "lat",
    "坐标系": "coord_system",
    "坐标系统": "coord_system",
    "crs": "coord_system",
    "精度": "precision",
    "品牌": "brand",
}
_POINT_FIELDS = ("lat", "lon", "coord_system", "precision")

TABLES: dict[str, TableSpec] = {
    "sellers": TableSpec(
        "sellers",
        required=("seller_id",),
        optional=("name", "platform", "registered_address", "registered_at"),
        key="seller_id",
        ids=("seller_id",),
        types={"registered_at": "date"},
        synonyms={
            **_COMMON_SYNONYMS,
            "店铺名称": "name",
            "店铺名": "name",
            "shop_name": "name",
            "平台": "platform",
            "注册地址": "registered_address",
            "注册时间": "registered_at",
            "开店时间": "registered_at",
        },
    ),
    "identifiers": TableSpec(
        "identifiers",
        required=("seller_id", "kind", "value"),
        ids=("seller_id",),
        choices={"kind": ()},  # any kind: unknown ones are kept and matched exactly
        synonyms={**_COMMON_SYNONYMS, "类型": "kind", "标识类型": "kind", "值": "value"},
    ),
    "shipments": TableSpec(
        "shipments",
        required=("shipment_id", "seller_id"),
        optional=(*_POINT_FIELDS, "origin_address", "shipped_at", "items", "value_cny", "brand"),
        key="shipment_id",
        ids=("shipment_id", "seller_id"),
        types={
            "lat": "lat",
            "lon": "lon",
            "shipped_at": "date",
            "items": "int",
            "value_cny": "float",
        },
        choices={"precision": PRECISIONS},
        synonyms={
            **_COMMON_SYNONYMS,
            "运单号": "shipment_id",
            "快递单号": "shipment_id",
            "waybill": "shipment_id",
            "waybill_no": "shipment_id",
            "发货地址": "origin_address",
            "发货地": "origin_address",
            "发货日期": "shipped_at",
            "发货时间": "shipped_at",
            "ship_date": "shipped_at",
            "件数": "items",
            "数量": "items",
            "申报价值": "value_cny",
            "货值": "value_cny",
            "declared_value": "value_cny",
        },
        address="origin_address",
    ),
    "evidence": TableSpec(
        "evidence",
        required=("seller_id", "verdict"),
        optional=("evidence_id", "brand", "kind", "date", "file_sha256"),
        key="evidence_id",
        ids=("seller_id", "evidence_id"),
        types={"date": "date"},
        choices={"verdict": VERDICTS, "kind": EVIDENCE_KINDS},
        synonyms={
            **_COMMON_SYNONYMS,
            "证据编号": "evidence_id",
            "鉴定结果": "verdict",
            "结论": "verdict",
            "类型": "kind",
            "日期": "date",
        },
    ),
    "locations": TableSpec(
        "locations",
        required=("seller_id", "kind"),
        optional=("address", *_POINT_FIELDS),
        ids=("seller_id",),
        types={"lat": "lat", "lon": "lon"},
        choices={"kind": LOCATION_KINDS, "precision": PRECISIONS},
        synonyms={**_COMMON_SYNONYMS, "地址": "address", "类型": "kind"},
        address="address",
    ),
}

# verdict and kind words seen in Chinese exports

# the five input tables, in the order they are loaded (sellers first: the others name them)
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
# the column that identifies a row, for the tables that have one (a re-ingested row replaces)
KEY_COLUMNS: dict[str, str] = {name: spec.key for name, spec in TABLES.items() if spec.key}
REVIEW_STATUSES = ("confirmed", "rejected", "needs-work")
EVENT_KINDS = ("raid", "takedown", "test_buy_campaign", "other")  # the case's dated events
