"""FastAPI dependencies: the settings, the model registry, the request's model set and the API-key check."""

from __future__ import annotations

import hmac

from fastapi import Depends, Request

from exo_assets.inference import ModelSet
from serving.errors import ApiError
from serving.registry import ModelRegistry
from serving.settings import ServeSettings


def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


def get_model_set(registry: ModelRegistry = Depends(get_registry)) -> ModelSet:
    """The models of this request: a reference held for its whole duration (hot reloads swap the registry's)."""
    return registry.current


def require_api_key(request: Request, settings: ServeSettings = Depends(get_settings)) -> None:
    """`X-API-Key` must match one of the configured keys (constant-time comparison); no keys = open."""
    if not settings.api_keys:
        return
    given = request.headers.get("x-api-key", "").encode()
    ok = False
    for key in settings.api_keys:
        ok |= hmac.compare_digest(given, key.encode())
    if not ok:
        raise ApiError(401, "BAD_INPUT", "missing or invalid X-API-Key header")
