"""Where the SDK reads settings and reaches the store, resolved from the environment."""

from __future__ import annotations

from docket.config import Settings
from docket.errors import ValidationError
from docket.storage.hashcache import HashCache
from docket.store import embedded_store
from docket.store.protocol import StoreAPI


def current_settings() -> Settings:
    return Settings.from_env()


def current_store(settings: Settings | None = None) -> StoreAPI:
    settings = settings or current_settings()
    if settings.base_url is not None:
        raise ValidationError(
            f"DOCKET_BASE_URL={settings.base_url} asks for a tracking server, which "
            f"this version of docket cannot reach yet; unset it to use the "
            f"embedded store"
        )
    return embedded_store(settings.home)


def hash_cache(settings: Settings | None = None) -> HashCache:
    settings = settings or current_settings()
    return HashCache(settings.cache_dir / "md5.sqlite")
