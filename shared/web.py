"""HTTP conventions of both services (spec section 5).

Every response is HTTP 200 JSON `{"code", "show", "msg", "data"}`: code 1 success, 0 business
error, -1 not logged in. Views raise `ApiError` (or a subclass) and return `ok(...)`; the
middlewares here turn everything else, bad input included, into that envelope without leaking a
stack trace, answer CORS, match action names case-insensitively and log one line per request.
"""
from __future__ import annotations

import logging
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Awaitable, Callable, Mapping

import orjson
from aiohttp import web
from marshmallow import EXCLUDE, Schema, ValidationError, validates

from shared.inputs import record_id
from shared.tokens import is_token_shaped

log = logging.getLogger("kefu.http")
access_log = logging.getLogger("kefu.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_PAGE_SIZE = 100
MAX_PAGE_NO = 100_000
DEFAULT_PAGE_SIZE = 15


# ---------------------------------------------------------------------------------------- errors

class ApiError(Exception):
    """A business error: answered as `{"code": 0, "show": 1, "msg": msg}`."""
    code = 0

    def __init__(self, msg: str, data: Any = None):
        super().__init__(msg)
        self.msg = msg
        self.data = [] if data is None else data


class NotLoggedIn(ApiError):
    """Missing, unknown, expired or logged-out token: code -1, the clients go to their login page."""
    code = -1

    def __init__(self, msg: str = "登录超时，请重新登录"):
        super().__init__(msg)


def request_token(request: web.Request) -> str:
    """The caller's `token` header; a missing or malformed one is `NotLoggedIn` before any lookup."""
    token = request.headers.get("token", "").strip()
    if not is_token_shaped(token):
        raise NotLoggedIn("请登录")
    return token


# -------------------------------------------------------------------------------------- envelope

def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def envelope(code: int, msg: str, data: Any, show: int) -> web.Response:
    body = dumps({"code": code, "show": show, "msg": msg, "data": [] if data is None else data})
    return web.Response(body=body, content_type="application/json")


def ok(data: Any = None, msg: str = "", show: int = 0) -> web.Response:
    return envelope(1, msg, data, show)


def fail(msg: str, data: Any = None, code: int = 0) -> web.Response:
    return envelope(code, msg, data, 1)


# ---------------------------------------------------------------------------------------- inputs

class Input(Schema):
    """Base of every HTTP input schema: unknown keys are ignored, as the mall clients send extras."""

    class Meta:
        unknown = EXCLUDE


class PageInput(Input):
    """Strict like ids: "2.5", "１" or a bool is refused, not truncated or guessed."""
    page_no = record_id("page_no", required=False, load_default=1)
    page_size = record_id("page_size", required=False, load_default=DEFAULT_PAGE_SIZE)  # capped by page_args

    @validates("page_no")
    def _within_reach(self, value: int, **kwargs: Any) -> None:
        # a deeper page only makes the database skip ever more rows
        if value > MAX_PAGE_NO:
            raise ValidationError(f"page_no 不能超过 {MAX_PAGE_NO}")


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string merged with the body; the body may be JSON or form-encoded (clients send both)."""
    params: dict[str, Any] = dict(request.query)
    if request.method in ("POST", "PUT", "PATCH") and request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                raise ApiError("请求体不是有效的 JSON") from None
            if not isinstance(body, dict):
                raise ApiError("请求体必须是 JSON 对象")
            params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _first_error(messages: Any) -> str:
    """The first message of a marshmallow error tree, prefixed with its field name when useful."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            inner = _first_error(value)
            if isinstance(value, list) and value and isinstance(value[0], str) and not _is_chinese(inner):
                return f"{key}: {inner}"
            return inner
    if isinstance(messages, list) and messages:
        return _first_error(messages[0])
    return str(messages)


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def load(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(_first_error(exc.messages)) from None


async def parse(request: web.Request, schema: Schema) -> dict[str, Any]:
    return load(schema, await read_params(request))


# ---------------------------------------------------------------------------------------- paging

_page_input = PageInput()


def page_args(params: Mapping[str, Any]) -> tuple[int, int]:
    """(page_no, page_size) with page_size capped at 100, from already-read params."""
    args = load(_page_input, {k: params[k] for k in ("page_no", "page_size") if k in params})
    return args["page_no"], min(args["page_size"], MAX_PAGE_SIZE)


def paged(rows: list[Any], count: int, page_no: int, page_size: int) -> dict[str, Any]:
    return {"list": rows, "page": page_no, "size": page_size, "count": count,
            "more": 1 if page_no * page_size < count else 0}


# ----------------------------------------------------------------------------------- middlewares

@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any origin may call, with the `token` header; a preflight answers empty."""
    if request.method == "OPTIONS":
        return _allow_cors(web.Response())
    try:
        return _allow_cors(await handler(request))
    except web.HTTPException as exc:   # 404s and the like carry the headers too
        _allow_cors(exc)
        raise


def _allow_cors(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Headers"] = "token, content-type, x-requested-with"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


@web.middleware
async def case_insensitive_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Action names match case-insensitively (clients call both formImage and formimage).

    Routes are registered in lower case; a path that found nothing is tried once more lowered.
    """
    if isinstance(request.match_info.http_exception, web.HTTPNotFound):
        lowered = request.path.lower()
        if lowered != request.path:
            match = await request.app.router.resolve(request.clone(rel_url=request.rel_url.with_path(lowered)))
            if match.http_exception is None:
                return await match.handler(request)
    return await handler(request)


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """ApiError → its envelope; anything unexpected → a generic code 0, logged, no stack trace out."""
    try:
        return await handler(request)
    except ApiError as exc:
        return envelope(exc.code, exc.msg, exc.data, 1 if exc.code == 0 else 0)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return fail("系统错误，请稍后再试")


def log_access(service: str, request: web.BaseRequest, status: int, started: float) -> None:
    """One structured line per request; the query string is left out, it can carry tokens."""
    access_log.info("%s", orjson.dumps({
        "svc": service, "method": request.method, "path": request.path, "status": status,
        "ms": round((time.perf_counter() - started) * 1000, 2), "remote": request.remote,
    }).decode())


def access_log_middleware(service: str) -> Callable:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            log_access(service, request, status, started)
    return middleware


def long_lived(handler: Handler) -> Handler:
    """Mark a handler that holds its request for the life of a connection (a WebSocket). The
    middlewares hand it straight through: a middleware awaiting it would keep a coroutine frame
    (~400 bytes) alive per connection, four of them ~8 % of an idle connection's memory. Such a
    handler logs its own access line and answers its own errors."""
    handler.long_lived = True   # type: ignore[attr-defined]
    return handler


def _http_only(middleware: Callable) -> Callable:
    @web.middleware
    def passing_long_lived_through(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        # Not a coroutine: for a long-lived handler this returns the handler's own awaitable, so
        # no frame of ours stays on the connection's stack.
        if getattr(request.match_info.handler, "long_lived", False):
            return handler(request)
        return middleware(request, handler)
    passing_long_lived_through.__name__ = middleware.__name__
    return passing_long_lived_through


def standard_middlewares(service: str) -> list:
    # Outermost first; the case-insensitive retry calls the route's handler directly, so it sits
    # innermost, inside the envelope.
    return [_http_only(m) for m in (access_log_middleware(service), cors_middleware, envelope_middleware,
                                    case_insensitive_middleware)]


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
