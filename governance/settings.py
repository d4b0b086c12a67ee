"""One settings object, read from ``LINPU_*`` environment variables.

Every setting is listed with its default in README.md ("Settings").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from governance.errors import ConfigurationError

#: The checkout (or install) root; the default data folder lives beneath it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINPU_", extra="ignore")

    var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for the default SQLite database and attachments.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<var_dir>/linpu.sqlite3. "
        "PostgreSQL with PostGIS: postgresql+psycopg://user@host/db.",
    )
    demo_mode: bool = Field(
        default=False, description="Show the demo accounts on the sign-in page."
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="The district's IANA time zone: times are stored in UTC and shown, printed and "
        "exported in it; a picked day is a day in it.",
    )
    snap_to_grid_m: float = Field(
        default=10, ge=0,
        description="A finding this close (metres) outside the current grids' outline is filed in the "
        "nearest grid with a note; farther out it is refused naming the distance.",
    )
    language: Literal["zh", "en"] = Field(default="zh", description="Default UI language.")
    tiles: Literal["none", "osm", "amap", "tianditu"] = Field(
        default="none", description="Basemap tiles; 'none' works offline."
    )
    tile_key: str | None = Field(default=None, description="Key for AMap or Tianditu tiles.")
    session_timeout_minutes: int = Field(
        default=30, ge=1, description="Idle minutes before a signed-in user must sign in again."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-Proto and X-Forwarded-For "
        "are believed (e.g. 127.0.0.1); from them, https marks the sign-in cookie Secure and the public pages "
        "count orders per visitor's address.",
    )
    resolve_limit_hours: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the per-severity time to resolve, in hours, as JSON "
        '(e.g. {"urgent": 2, "low": 240}); unnamed severities keep their defaults.',
    )
    category_limit_hours: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the per-category cap on the time to resolve, in hours, as JSON "
        '(e.g. {"gas": 12}); the limit is the smaller of severity and category.',
    )
    category_limit_units: dict[str, str] = Field(
        default_factory=dict,
        description="How each category's limits are counted, as JSON: working_hours, working_days or "
        'calendar_hours (e.g. {"fire_exit": "working_hours"}); default working_days, gas calendar_hours.',
    )
    working_hours: str = Field(
        default="08:30-12:00,14:00-18:00",
        description="Working periods of a working day in China time (HH:MM-HH:MM, comma-separated); "
        "working-time limits count only these.",
    )
    follow_up_hours: float = Field(
        default=72, gt=0, description="Hours allowed for the follow-up visit after a case is resolved."
    )
    accept_limit_hours: float = Field(
        default=2, gt=0,
        description="Working hours a department has to accept a dispatched order before it is an early warning.",
    )
    duplicate_radius_m: float = Field(
        default=50, gt=0, description="A new finding this close to an open case of its category is offered to it."
    )
    duplicate_days: float = Field(
        default=7, gt=0, description="...if that case was raised within this many days."
    )
    max_attachment_mb: float = Field(
        default=8, gt=0, description="Largest photo accepted as an attachment, in MB."
    )
    badge_revoke_cases: int = Field(
        default=3, ge=1,
        description="Cases against a shop closed as fixed within the window that make its badges due for revocation.",
    )
    badge_revoke_days: int = Field(
        default=90, ge=1, description="Window in days for the badge-revocation rule."
    )

    frontage_depth_m: float = Field(
        default=5, gt=0, description="Depth of a generated frontage zone (门前三包), from the shop towards its street."
    )
    frontage_width_m: float = Field(
        default=8, gt=0, description="Width of a generated frontage zone along the street, centred on the shop."
    )

    hotspot_min_cases: int = Field(
        default=5, ge=1,
        description="Cases a grid's neighbourhood (itself and the grids touching it) must hold "
        "before it can be called a hotspot.",
    )

    @property
    def trusted_proxy_addresses(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.trusted_proxies.split(",") if a.strip())
    base_url: str = Field(
        default="http://localhost:8501",
        description="Address of the app for staff: the links in notifications point here.",
    )
    public_url: str | None = Field(
        default=None, description="Address of the public pages and QR codes; defaults to base_url."
    )
    public_orders_per_ip_per_day: int = Field(
        default=5, ge=1,
        description="Orders and complaints the public pages accept from one client address a day (China time).",
    )
    public_orders_per_phone_per_day: int = Field(
        default=3, ge=1, description="Orders and complaints the public pages accept for one phone number a day.",
    )
    public_keep_days: int = Field(
        default=365, ge=30,
        description="Days a public request's phone is kept after it closes (said in the privacy notice); "
        "`linpu public forget-phones` deletes older ones.",
    )
    board_font: Path | None = Field(
        default=None,
        description="Font file (TTF/OTF/TTC with Chinese) for the printed boards; default: the first Noto CJK "
        "font installed (Debian: fonts-noto-cjk).",
    )
    notify_timeout_seconds: float = Field(
        default=10, gt=0, description="How long the sender waits for a webhook to answer."
    )
    notify_lease_seconds: float = Field(
        default=120, gt=0,
        description="How long a claimed delivery is held by one sender before another may retry it; "
        "longer than the timeout.",
    )
    notify_backoff_seconds: float = Field(
        default=30, gt=0, description="Wait before the first retry of a failed delivery; doubles each attempt."
    )
    notify_backoff_max_seconds: float = Field(
        default=3600, gt=0, description="The longest wait between retries (deliveries are retried until they succeed)."
    )
    notify_poll_seconds: float = Field(default=30, gt=0, description="Pause between passes of `linpu notify run`.")
    notify_due_soon_hours: float = Field(
        default=4, gt=0, description="A case due within this many hours is announced as due soon."
    )
    notify_digest_hour: int = Field(
        default=8, ge=0, le=23, description="Local hour from which each leader's daily digest is sent."
    )

    db_pool_size: int = Field(
        default=5, ge=1, description="PostgreSQL connections the app keeps open (per process)."
    )
    db_pool_overflow: int = Field(
        default=10, ge=0, description="Connections opened beyond the pool size at a peak, closed after."
    )
    db_pool_timeout_seconds: float = Field(
        default=10, gt=0,
        description="Wait for a free connection before a step is refused as busy (the form is kept; try again).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or self.base_url

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'linpu.sqlite3').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings; a bad value stops the app and the CLI with one line naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"LINPU_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(problems) from None
