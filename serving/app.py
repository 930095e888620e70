"""FastAPI inference service: `uvicorn serving.app:create_app --factory` (or `exo-serve`).

Endpoints: `GET /healthz`, `GET /api/models/info`, `POST /api/predict` (JSON body, or multipart with a
`curve` file, `meta` JSON and `options` JSON), `POST /api/predict/batch` (JSON, at most `max_batch`
items, else 413) and `/media/plots/*.png`. Every error is `{"error": {"code", "message"}}`:

| status | code | when |
|---|---|---|
| 400 | BAD_INPUT | unreadable upload (empty, not CSV/FITS, FITS that is not a light curve, bad meta JSON) |
| 401 | BAD_INPUT | API keys are configured and `X-API-Key` is missing or wrong |
| 404 / 405 | BAD_INPUT | unknown path or method |
| 413 | BAD_INPUT | request body over `max_upload_bytes` (refused from Content-Length before reading, or as soon as a streamed body passes it), or a batch over `max_batch` items |
| 415 | BAD_INPUT | neither JSON nor multipart |
| 422 | BAD_INPUT | invalid fields or curve (lengths, < 100 points, NaN flux, unsorted/duplicate times, period, t0, unknown mission) |
| 422 | FIT_FAIL | the curve is valid but the signal cannot be measured |
| 503 | MODEL_ERROR | no model materialized for the mission (the message says how to materialize) |
| 504 | FIT_FAIL | the fit ran past `fit_timeout_s` |
| 500 | INTERNAL | a bug (logged server-side; no stack trace in the response) |

Layout (the FastAPI full-stack template's): `settings` (pydantic-settings, `EXO_` environment
variables, read when the app is created), `routes` (the `APIRouter`), `deps` (dependencies),
`errors` (exception handlers and middleware), `registry` (models loaded through Dagster), `schemas`.
The models load in the lifespan (`serving.registry.ModelRegistry`) and are hot-reloaded on a timer
and on `/api/models/info`. Fits run in a bounded thread pool with a deadline: on timeout the client
gets 504 at once and the engine stops at its next stage boundary (cleaning, diagnostics, plots).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from serving.errors import BodyLimitMiddleware, EnvelopeCORSMiddleware, install_error_handlers
from serving.registry import ModelRegistry
from serving.routes import router
from serving.schemas import BatchRequest, MultipartPredict, PredictRequest
from serving.settings import ServeSettings

log = logging.getLogger("exo_assets.serving")


def _init_fit_thread(numba_threads: int) -> None:
    """numba's thread count is per calling thread: set it in each fit thread (see ServeSettings)."""
    import numba

    numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    """Load the models (through Dagster), start the fit pool and the reload timer; undo it all at shutdown."""
    import torch

    settings: ServeSettings = app.state.settings
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(settings.torch_threads)  # process-wide; restored at shutdown
    registry = ModelRegistry(settings.dagster_home, settings.missions)
    app.state.registry = registry
    app.state.executor = ThreadPoolExecutor(max_workers=settings.fit_workers, thread_name_prefix="exo-fit",
                                            initializer=_init_fit_thread, initargs=(settings.numba_threads,))
    try:
        await asyncio.to_thread(registry.refresh)
    except Exception:  # noqa: BLE001 - serve 503s rather than not start
        log.exception("initial model load failed")
    task = asyncio.create_task(_reload_loop(registry, settings.reload_interval_s)) \
        if settings.reload_interval_s > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.executor.shutdown(wait=False, cancel_futures=True)
        registry.close()
        torch.set_num_threads(torch_threads)


async def _reload_loop(registry: ModelRegistry, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(registry.refresh)
        except Exception:  # noqa: BLE001 - keep serving the current models
            log.exception("model reload check failed")


def openapi_schema(app: FastAPI) -> dict:
    """FastAPI's schema plus the request bodies the predict routes parse themselves (JSON or multipart)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (PredictRequest, MultipartPredict, BatchRequest):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in js.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components[model.__name__] = js
    app.openapi_schema = schema
    return schema


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """Build the app. Settings default to `ServeSettings.from_env()` (read now, not at import)."""
    settings = settings or ServeSettings.from_env()
    app = FastAPI(
        title="exo-assets inference API",
        version="1",
        description="Classifies a transit signal in a light curve as CP / PC / FP with the models materialized "
        "by the exo-assets Dagster pipeline. Models trained on the embedded simulator answer with "
        '`"provenance": "simulated"`: their probabilities are not real-world accuracy.',
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    if settings.cors_origins:  # outermost, so that even a 413 carries the CORS headers
        app.add_middleware(EnvelopeCORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"],
                           allow_credentials=False)
    install_error_handlers(app)
    app.include_router(router)
    app.mount(settings.media_url, StaticFiles(directory=str(settings.media_path), check_dir=False), name="media")
    app.openapi = functools.partial(openapi_schema, app)
    return app


def main(argv: list[str] | None = None) -> int:
    """`exo-serve`: run the API with uvicorn (settings from the environment, see serving.settings)."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(prog="exo-serve", description="Serve the exo-assets inference API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    uvicorn.run("serving.app:create_app", factory=True, host=args.host, port=args.port, log_level=args.log_level)
    return 0
