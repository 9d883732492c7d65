"""ISO 8601 durations (P5D, PT4H, P1Y2M3W4DT5H6M7S) as the models write them: read once, here."""

import re

DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def is_duration(text: str | None) -> bool:
    return bool(text) and DURATION.match(text) is not None


def parts(text: str | None) -> dict[str, float] | None:
    """{"days": 5, ...} for the parts a duration names, or None when it is not one."""
    match = DURATION.match(text or "")
    if not match:
        return None
    return {k: float(v) for k, v in match.groupdict().items() if v}
