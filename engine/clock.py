"""The business clock: which day it is where the company works (for "not before today").

The zone is a platform setting (`BUSINESS_TIMEZONE`), set once per process by the app factory;
business calendars with zones of their own come with service levels.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

_zone = {"value": ZoneInfo("Asia/Shanghai")}


def set_zone(name: str) -> None:
    """Set the business time zone (an IANA name such as Asia/Shanghai).

    Raises:
        ValueError: an unknown zone.
    """
    try:
        _zone["value"] = ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def zone() -> ZoneInfo:
    return _zone["value"]


def today() -> date:
    """Today's date in the business time zone."""
    return datetime.now(_zone["value"]).date()
