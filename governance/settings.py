"""One settings object, read from ``LINPU_*`` environment variables.

Every setting is listed with its default in README.md ("Settings").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    language: Literal["zh", "en"] = Field(default="zh", description="Default UI language.")
    tiles: Literal["none", "osm", "amap", "tianditu"] = Field(
        default="none", description="Basemap tiles; 'none' works offline."
    )
    tile_key: str | None = Field(default=None, description="Key for AMap or Tianditu tiles.")
    session_timeout_minutes: int = Field(
        default=30, ge=1, description="Idle minutes before a signed-in user must sign in again."
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

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'linpu.sqlite3').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
