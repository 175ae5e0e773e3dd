"""A bot's business hours: when a person may answer, in the shop's own time zone.

Stored on the bot as ``{"timezone": "Europe/Berlin", "days": ["mon", ..., "fri"],
"open": "09:00", "close": "17:00"}``; none set means someone may answer at any time.
Outside the hours a visitor who asks for a person is told when someone will be there
and asked for an e-mail address instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    days: Annotated[list[Day], Field(min_length=1, max_length=7)] = list(DAYS[:5])
    open: Clock = "09:00"
    close: Clock = "17:00"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.open >= self.close:
            raise ValueError("open must be before close (hours past midnight are not supported)")
        self.days = [d for d in DAYS if d in self.days]
        return self

    def _zone_info(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _window(self, day: datetime) -> tuple[datetime, datetime]:
        zone = self._zone_info()
        start = datetime.combine(day.date(), time.fromisoformat(self.open), zone)
        end = datetime.combine(day.date(), time.fromisoformat(self.close), zone)
        return start, end

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self._zone_info())
        if DAYS[local.weekday()] not in self.days:
            return False
        start, end = self._window(local)
        return start <= local < end

    def next_opening(self, now: datetime) -> datetime:
        """When someone is next there (``now`` itself when open), in UTC."""
        if self.is_open(now):
            return now.astimezone(UTC)
        local = now.astimezone(self._zone_info())
        for ahead in range(8):
            day = local + timedelta(days=ahead)
            if DAYS[day.weekday()] not in self.days:
                continue
            start, _ = self._window(day)
            if start > local:
                return start.astimezone(UTC)
        raise AssertionError("a week always holds an opening")  # days is never empty

    def describe(self) -> str:
        """ "mon-fri 09:00-17:00 (Europe/Berlin)", for people."""
        return f"{_days(self.days)} {self.open}–{self.close} ({self.timezone})"


def _days(days: list[Day]) -> str:
    indexes = [DAYS.index(d) for d in days]
    if indexes == list(range(indexes[0], indexes[-1] + 1)) and len(indexes) > 2:
        return f"{days[0].title()}–{days[-1].title()}"
    return ", ".join(d.title() for d in days)


def hours_of(bot: dict[str, Any]) -> BusinessHours | None:
    raw = bot.get("business_hours")
    return BusinessHours.model_validate(raw) if raw else None


def availability(bot: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Whether a person may answer now, and if not when; what the widget shows."""
    hours = hours_of(bot)
    if hours is None:
        return {"available": True, "opens_at": None, "hours": None}
    moment = now or datetime.now(UTC)
    if hours.is_open(moment):
        return {"available": True, "opens_at": None, "hours": hours.describe()}
    return {
        "available": False,
        "opens_at": hours.next_opening(moment).isoformat(),
        "hours": hours.describe(),
    }
