"""Where the SDK reads settings and reaches the store, resolved from the environment."""

from __future__ import annotations

from docket.config import Settings
from docket.storage.hashcache import HashCache
from docket.store import embedded_store
from docket.store.protocol import StoreAPI


def current_settings() -> Settings:
    return Settings.from_env()


def current_store(settings: Settings | None = None) -> StoreAPI:
    """The tracking server when one is configured, else the embedded store."""
    settings = settings or current_settings()
    if settings.base_url is None:
        return embedded_store(settings.home)
    from docket.client.remote import remote_store

    return remote_store(settings.base_url, settings.api_key)


def hash_cache(settings: Settings | None = None) -> HashCache:
    settings = settings or current_settings()
    return HashCache(settings.cache_dir / "md5.sqlite")
