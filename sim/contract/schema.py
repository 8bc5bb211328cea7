"""The one definition of every table and event stream.

Writers, the validator, real-time event payloads and the generated docs all read
these definitions: the columns (kinds in :mod:`sim.contract.table`), the codes a coded
column may hold (:mod:`sim.contract.vocab`), the event types rows are reported as, and
each table's :class:`TableCode`, the number its TraceIds are derived from.
"""

from __future__ import annotations

from enum import IntEnum

from sim.contract import vocab as v
from sim.contract.table import (  # noqa: F401 (the table types are re-exported)
    ARROW_TYPES,
    Column,
    Kind,
    Table,
    TableKind,
    coded,
)
from sim.contract.table import table as _t


class TableCode(IntEnum):
    """Each table's code in its TraceIds. Part of the output contract: never renumber;
    a new table takes the next free number (tests/test_contract.py holds the list)."""

    geographies_master = 0
    distribution_centers = 1
    stores = 2
    trucks = 3
    customers = 4
    products_master = 5
    dc_inventory_snapshots = 6
    store_inventory_snapshots = 7
    receipts = 8
    receipt_lines = 9
    store_inventory_txn = 10
    foot_traffic = 11
    ble_pings = 12
    marketing = 13
    dc_inventory_txn = 14
    truck_moves = 15
    online_orders = 16
    reorder_triggered = 17
    customer_entered = 18
    payment_processed = 19
    stockout_detected = 20
    store_status = 21


_TRACE = ("TraceId", "str", "Unique id of the fact, equal to the trace_id of its event.")
_TS = ("EventTS", "ts", "When it happened (UTC).")

MASTER: tuple[Table, ...] = (
    _t(
        "geographies_master",
        "master",
        "Places stores, DCs and customers are in.",
        ("ID", "int", "Geography id."),
        ("City", "str", "Fictitious city name."),
        ("State", "str", "US state (USPS code)."),
        ("ZipCode", "str", "Made-up zip code, plausible for the state."),
        ("District", "str", "Sales district (Census division)."),
        ("Region", "str", "Census region."),
        ("TaxRate", "float", "Combined state + average local sales tax rate."),
        ("TimeZone", "str", "IANA time zone used for local opening hours."),
    ),
    _t(
        "distribution_centers",
        "master",
        "Distribution centers; each is one shard.",
        ("ID", "int", "DC id."),
        ("DCNumber", "str", "DC number as printed on paperwork."),
        ("Address", "str", "Fictitious street address."),
        ("GeographyID", "int", "geographies_master.ID."),
    ),
    _t(
        "stores",
        "master",
        "Stores, each supplied by one DC.",
        ("ID", "int", "Store id."),
        ("StoreNumber", "str", "Store number."),
        ("Address", "str", "Fictitious street address."),
        ("GeographyID", "int", "geographies_master.ID."),
        ("DCID", "int", "distribution_centers.ID of the supplying DC."),
        ("OpenHour", "int", "Local opening hour."),
        ("CloseHour", "int", "Local closing hour."),
        ("Lanes", "int", "Checkout lanes."),
        ("SizeFactor", "float", "Relative traffic of the store (1.0 = chain average)."),
        ("DistanceKm", "float", "Road distance from the supplying DC."),
    ),
    _t(
        "trucks",
        "master",
        "DC trucks (Fleet DC) and supplier trucks (Fleet SUPPLIER).",
        ("ID", "int", "Truck id."),
        ("LicensePlate", "str", "Synthetic plate."),
        ("Refrigeration", "bool", "Refrigerated trailer."),
        ("DCID", "int", "The DC the truck serves."),
        ("Fleet", "str", "DC: DC to stores; SUPPLIER: suppliers to the DC."),
        ("CapacityPallets", "int", "Trailer capacity in pallets."),
    ),
    _t(
        "customers",
        "master",
        "Synthetic customers.",
        ("ID", "int", "Customer id."),
        ("FirstName", "str", "First name."),
        ("LastName", "str", "Last name."),
        ("Address", "str", "Fictitious street address."),
        ("GeographyID", "int", "geographies_master.ID."),
        ("LoyaltyCard", "str", "Loyalty card number; empty for non-members.", True),
        ("Phone", "str", "Phone number in the reserved 555-0100..555-0199 range."),
        ("BLEId", "str", "Bluetooth id of the customer's app; empty if none.", True),
        ("AdId", "str", "Advertising id; empty if none.", True),
        ("HomeStoreID", "int", "stores.ID of the store the customer uses most."),
    ),
    _t(
        "products_master",
        "master",
        "Sellable SKUs: a base product under a brand.",
        ("ID", "int", "Product id."),
        ("ProductName", "str", "Brand + base product name."),
        ("Brand", "str", "Invented brand."),
        ("Company", "str", "Invented company owning the brand."),
        ("Department", "str", "Department."),
        ("Category", "str", "Category."),
        ("Subcategory", "str", "Subcategory."),
        ("Cost", "money", "Unit cost to the chain."),
        ("MSRP", "money", "Manufacturer's suggested retail price."),
        ("SalePrice", "money", "Everyday shelf price (before promotions)."),
        ("RequiresRefrigeration", "bool", "Needs a refrigerated truck and case."),
        ("LaunchDate", "date", "When the SKU was launched."),
        ("Popularity", "float", "Relative sales weight within the assortment."),
        ("UnitsPerPallet", "int", "Units that fill one pallet (by department)."),
        ("SupplierLeadDays", "int", "Days from a DC's order to the supplier's delivery."),
    ),
    _t(
        "dc_inventory_snapshots",
        "master",
        "Opening DC inventory.",
        ("DCID", "int", "distribution_centers.ID."),
        ("ProductID", "int", "products_master.ID."),
        ("Qty", "int", "Units on hand."),
        ("SnapshotTS", "ts", "Time of the snapshot."),
    ),
    _t(
        "store_inventory_snapshots",
        "master",
        "Opening store inventory (the assortment).",
        ("StoreID", "int", "stores.ID."),
        ("ProductID", "int", "products_master.ID."),
        ("Qty", "int", "Units on hand."),
        ("SnapshotTS", "ts", "Time of the snapshot."),
    ),
)

FACTS: tuple[Table, ...] = (
    _t(
        "receipts",
        "fact",
        "One row per paid basket.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        ("CustomerID", "int", "customers.ID; empty for an anonymous walk-in.", True),
        ("ReceiptId", "str", "Receipt number, unique in the chain."),
        ("Subtotal", "money", "Sum of ExtPrice of the lines."),
        ("Tax", "money", "Sales tax at the store's rate, rounded half up to the cent."),
        ("Total", "money", "Subtotal + Tax."),
        coded("TenderType", "How the basket was paid.", v.TENDERS),
        ("ImpressionId", "str", "marketing.ImpressionId that caused the visit, if any.", True),
        event_type="receipt_created",
        key="StoreID",
    ),
    _t(
        "receipt_lines",
        "fact",
        "One row per product on a receipt.",
        _TRACE,
        _TS,
        ("ReceiptId", "str", "receipts.ReceiptId."),
        ("Line", "int", "Line number from 1."),
        ("ProductID", "int", "products_master.ID."),
        ("Qty", "int", "Units."),
        ("UnitPrice", "money", "Price paid per unit (promotion applied)."),
        ("ExtPrice", "money", "Qty x UnitPrice."),
        ("PromoCode", "str", "Promotion applied, if any.", True),
        ("StoreID", "int", "stores.ID (the partition key of the event)."),
        event_type="receipt_line_added",
        also_events={"promotion_applied": "PromoCode"},
        key="StoreID",
    ),
    _t(
        "store_inventory_txn",
        "fact",
        "Every change of a store's on-hand units.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        ("ProductID", "int", "products_master.ID."),
        ("QtyDelta", "int", "Change in units (negative out)."),
        coded("Reason", "Why the units changed.", v.STORE_TXN_REASONS),
        coded(
            "Source", "What moved them: the store, a truck, an online order.", v.STORE_TXN_SOURCES
        ),
        ("Reference", "str", "ReceiptId or ShipmentId behind the change.", True),
        event_type="inventory_updated",
        key="StoreID",
    ),
    _t(
        "foot_traffic",
        "fact",
        "Sensor counts per store, zone and 15-minute interval.",
        _TRACE,
        ("EventTS", "ts", "Start of the interval (UTC)."),
        ("StoreID", "int", "stores.ID."),
        ("SensorId", "str", "Sensor covering the zone."),
        coded("Zone", "Zone of the store.", v.ZONES),
        ("Dwell", "float", "Mean seconds the visitors spent in the zone in the interval."),
        ("Count", "int", "Distinct visitors present in the zone during the interval."),
        event_type="foot_traffic_counted",
        key="StoreID",
    ),
    _t(
        "ble_pings",
        "fact",
        "Beacon detections of customers' app Bluetooth ids.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        ("BeaconId", "str", "Beacon that heard the customer."),
        ("CustomerBLEId", "str", "customers.BLEId."),
        ("RSSI", "int", "Signal strength in dBm (closer = higher)."),
        coded("Zone", "Zone of the beacon.", v.ZONES),
        event_type="ble_ping_detected",
        key="StoreID",
    ),
    _t(
        "marketing",
        "fact",
        "Ad impressions with their cost.",
        _TRACE,
        _TS,
        coded("Channel", "Ad channel.", v.AD_CHANNELS),
        ("CampaignId", "str", "Campaign."),
        ("CreativeId", "str", "Creative shown."),
        ("CustomerAdId", "str", "customers.AdId reached."),
        ("ImpressionId", "str", "Impression id; receipts.ImpressionId refers to it."),
        ("Cost", "float", "Cost of the impression in dollars (fractions of a cent)."),
        coded("Device", "Device the ad was shown on.", v.AD_DEVICES),
        ("StoreID", "int", "The home store of the customer reached (partition key)."),
        event_type="ad_impression",
        key="StoreID",
    ),
    _t(
        "dc_inventory_txn",
        "fact",
        "Every change of a DC's on-hand units.",
        _TRACE,
        _TS,
        ("DCID", "int", "distribution_centers.ID."),
        ("ProductID", "int", "products_master.ID."),
        ("QtyDelta", "int", "Change in units (negative out)."),
        coded("Reason", "Why the units changed.", v.DC_TXN_REASONS),
        coded(
            "Source",
            "What moved them: a truck to the stores, a supplier delivery, an online order.",
            v.DC_TXN_SOURCES,
        ),
        ("Reference", "str", "ShipmentId or OrderId behind the change.", True),
        event_type="dc_inventory_updated",
        key="DCID",
    ),
    _t(
        "truck_moves",
        "fact",
        "Lifecycle of each truck trip.",
        _TRACE,
        _TS,
        ("TruckId", "int", "trucks.ID."),
        ("DCID", "int", "distribution_centers.ID."),
        ("StoreID", "int", "stores.ID.", True),
        ("ShipmentId", "str", "Shipment."),
        coded("Status", "Stage of the trip.", v.TRUCK_STATUSES),
        ("ETA", "ts", "Expected arrival."),
        ("ETD", "ts", "Expected departure."),
        ("Pallets", "float", "Pallets on board."),
        status_events=v.TRUCK_EVENTS,
        key="DCID",
    ),
)

ONLINE = _t(
    "online_orders",
    "fact",
    "Lifecycle of online order lines: one row per line and status.",
    _TRACE,
    _TS,
    ("OrderId", "str", "Order id."),
    ("Line", "int", "Line number from 1."),
    ("CustomerID", "int", "customers.ID."),
    ("ProductID", "int", "products_master.ID."),
    ("Qty", "int", "Units."),
    ("UnitPrice", "money", "Price per unit."),
    ("ExtPrice", "money", "Qty x UnitPrice."),
    coded("Status", "Stage of the line.", v.ORDER_STATUSES),
    coded(
        "FulfillmentType",
        "How the line reaches the customer (SHIP_TO_HOME is fulfilled by the DC).",
        v.FULFILLMENT_TYPES,
    ),
    ("NodeType", "str", "DC or STORE that fulfils the line; empty before allocation.", True),
    ("NodeID", "int", "distribution_centers.ID or stores.ID of the node.", True),
    ("StoreID", "int", "The customer's home store (partition key)."),
    status_events=v.ORDER_EVENTS,
    key="StoreID",
)
FACTS = (*FACTS, ONLINE)

EVENTS: tuple[Table, ...] = (
    _t(
        "reorder_triggered",
        "event",
        "A store or DC reordered a product at its reorder point.",
        _TRACE,
        _TS,
        coded("NodeType", "Whether a store or the DC reordered.", v.NODE_TYPES),
        ("NodeID", "int", "stores.ID or distribution_centers.ID."),
        ("ProductID", "int", "products_master.ID."),
        ("OnHand", "int", "Units on hand."),
        ("OnOrder", "int", "Units already ordered."),
        ("OrderQty", "int", "Units ordered now."),
        event_type="reorder_triggered",
        key="NodeID",
    ),
    _t(
        "customer_entered",
        "event",
        "A visit starts at the store entrance.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        ("CustomerID", "int", "customers.ID; empty for an anonymous walk-in.", True),
        ("VisitId", "str", "Visit id."),
        event_type="customer_entered",
        key="StoreID",
    ),
    _t(
        "payment_processed",
        "event",
        "The tender of a receipt was accepted.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        ("ReceiptId", "str", "receipts.ReceiptId."),
        ("TenderType", "str", "Tender."),
        ("Amount", "money", "Amount paid (the receipt Total)."),
        event_type="payment_processed",
        key="StoreID",
    ),
    _t(
        "stockout_detected",
        "event",
        "A store's on-hand units of a product reached zero.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        ("ProductID", "int", "products_master.ID."),
        event_type="stockout_detected",
        key="StoreID",
    ),
    _t(
        "store_status",
        "event",
        "A store opened or closed.",
        _TRACE,
        _TS,
        ("StoreID", "int", "stores.ID."),
        coded("Status", "What happened.", v.STORE_STATUSES),
        key="StoreID",
        status_events=v.STORE_EVENTS,
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (*MASTER, *FACTS, *EVENTS)}


def table(name: str) -> Table:
    """The table called ``name``."""
    return TABLES[name]


def code(name: str) -> int:
    """The code of table ``name`` in its TraceIds (:class:`TableCode`)."""
    return int(TableCode[name])
