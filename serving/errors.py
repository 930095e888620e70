"""The API's error envelope `{"error": {"code", "message"}}`: the exception handlers and the middleware
that refuse requests before a route runs (body size, CORS preflight). Statuses: see `serving.app`.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from exo_assets.inference import InferenceError

log = logging.getLogger("exo_assets.serving")


class ApiError(Exception):
    """An error response: HTTP status, envelope code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, "BAD_INPUT", f"request body exceeds the limit of {limit} bytes")


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def from_inference(err: InferenceError) -> ApiError:
    """The engine's error as an API error (each `InferenceError` class carries its HTTP status)."""
    return ApiError(err.status, err.code, err.message)


def internal_error(err: Exception, where: str) -> ApiError:
    """Log a bug with a reference and answer 500 with that reference only (no stack trace)."""
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s %s", ref, where, exc_info=err)
    return ApiError(500, "INTERNAL", f"internal error (reference {ref})")


def validation_message(errors) -> str:
    """pydantic's errors as one message (the first five)."""
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


def as_api_error(err: Exception, where: str = "") -> ApiError:
    """Any failure of a handler as an `ApiError`: the engine's errors with their status, invalid fields
    422, anything else 500 (logged with a reference)."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, InferenceError):
        return from_inference(err)
    if isinstance(err, ValidationError):
        return ApiError(422, "BAD_INPUT", validation_message(err.errors()))
    return internal_error(err, where)


async def guarded(coro, where: str = ""):
    """Await a handler's work, turning every failure into the error envelope (nothing reaches the
    server's plain 500 page)."""
    try:
        return await coro
    except (ApiError, StarletteHTTPException):
        raise
    except Exception as err:  # noqa: BLE001 - mapped, never swallowed
        raise as_api_error(err, where) from None


# ------------------------------------------------------------------------------------------ handlers

async def _api_error(request: Request, err: ApiError):
    return error_response(err.status, err.code, err.message)


async def _inference_error(request: Request, err: InferenceError):
    api = from_inference(err)
    return error_response(api.status, api.code, api.message)


async def _validation(request: Request, err: RequestValidationError):
    return error_response(422, "BAD_INPUT", validation_message(err.errors()))


async def _http(request: Request, err: StarletteHTTPException):
    message = err.detail if isinstance(err.detail, str) else "request refused"
    if err.status_code == 404:
        message = f"not found: {request.url.path}"
    return error_response(err.status_code, "INTERNAL" if err.status_code >= 500 else "BAD_INPUT", message,
                          headers=getattr(err, "headers", None))


async def _internal(request: Request, err: Exception):
    api = internal_error(err, f"on {request.url.path}")
    return error_response(api.status, api.code, api.message)


def install_error_handlers(app: FastAPI) -> None:
    """Every error of `app` answers with the envelope."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(InferenceError, _inference_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)


# ------------------------------------------------------------------------------------------ middleware

class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413, early: a larger Content-Length is refused before
    any byte is read; a streamed (chunked) body is cut as soon as the running total passes the limit."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return await error_response(400, "BAD_INPUT", "invalid Content-Length header")(scope, receive, send)
            if int(length) > self.max_bytes:
                return await error_response(413, "BAD_INPUT", f"request body of {int(length)} bytes exceeds the "
                                            f"limit of {self.max_bytes} bytes")(scope, receive, send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as err:
            if not started:
                await error_response(err.status, err.code, err.message)(scope, receive, send)


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware whose refused preflights use the error envelope (not plain text)."""

    def preflight_response(self, request_headers):
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return error_response(response.status_code, "BAD_INPUT", bytes(response.body).decode(errors="replace"),
                              headers=headers)
