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

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'linpu.sqlite3').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
