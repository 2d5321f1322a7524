"""The ops console as a FastAPI application: pages under ``/console/``, the same figures as JSON under
``/console/api/``, every route behind an operator login.

Handlers are plain ``def`` functions: FastAPI runs them in its thread pool, so a slow ledger read never blocks
the event loop. Forms are parsed with the standard library (``application/x-www-form-urlencoded`` is all the
console posts; a login in another encoding is a 415), so the console needs nothing beyond FastAPI itself. Times
in the JSON are Beijing time with their offset, as on the pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gateway.console import pages, sessions
from gateway.console.operators import NAME_MAX, Operator, OperatorBook
from gateway.console.overview import HANDOFF_PAGE, console_overview, handoff_counts, handoff_listing
from gateway.contract.errors import ConfigError
from gateway.kernel.runtime import Runtime
from gateway.models.datetimes import beijing_iso
from gateway.ops.dead_letters import dead_letter_detail, grouped_dead_letters
from gateway.store.queries import dead_letter_listing, open_dead_letter_total

if TYPE_CHECKING:
    from gateway.sync.reprocess import ReplayReport

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
DEAD_LETTER_PAGE = 200
"""Dead letters listed a page: newest first, then "older" by id (``before``) through the whole store."""
_LOGIN_FAILURES_ALLOWED = 5
_LOGIN_WINDOW_S = 300.0


_LOGIN_FAILURES_PER_ADDRESS = 20
_LOGIN_CHECKS_AT_ONCE = 2
_THROTTLE_KEYS_MAX = 10_000
_OVER_ADDRESS_LIMIT_DELAY_S = 1.0
"""How long a login from an address past its limit waits before its password is checked."""
FORM_BYTES_MAX = 4096
"""The largest form body the console reads (a login, a logout, a replay are a few hundred bytes): more is a 413,
refused before it is read into memory."""
_log = logging.getLogger("tongban.console")


class _LoginThrottle:
    """At most five wrong passwords per name, and twenty per client address, in five minutes. A name past its
    limit is locked (even its right password waits); past an address's limit a name that had a wrong password
    within the window is refused unchecked and any other is checked once, slowly — throwaway names from a shared
    address (a NAT, the office proxy) must not lock every operator behind it out, and a guesser there gets one
    try per name per window. Each key keeps at
    most ``allowed`` failures; keys whose window has passed are forgotten."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self._failures: dict[str, deque[float]] = {}
        self._checking: dict[str, int] = {}

    def blocked(self, key: str, now: float) -> bool:
        """Past the limit: the failures within the window and the checks still running for ``key`` (each may be
        one more failure) — counted after the check only, a burst of parallel guesses all passed this before the
        first failure was written (40 passwords checked for one name, none refused)."""
        recent = self._failures.get(key)
        while recent and now - recent[0] > _LOGIN_WINDOW_S:
            recent.popleft()
        return len(recent or ()) + self._checking.get(key, 0) >= self.allowed

    def busy(self, key: str) -> bool:
        """Whether a password check for ``key`` is under way."""
        return key in self._checking

    @contextmanager
    def checking(self, key: str) -> Iterator[None]:
        """A password check under way for ``key``: counted by :meth:`blocked` until it ends."""
        self._checking[key] = self._checking.get(key, 0) + 1
        try:
            yield
        finally:
            left = self._checking[key] - 1
            if left:
                self._checking[key] = left
            else:
                del self._checking[key]

    def failed(self, key: str, now: float) -> None:
        if len(self._failures) > _THROTTLE_KEYS_MAX:  # forget whoever has not failed within the window
            self._failures = {k: q for k, q in self._failures.items() if q and now - q[-1] <= _LOGIN_WINDOW_S}
        self._failures.setdefault(key, deque(maxlen=self.allowed)).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def failed_lately(self, key: str, now: float) -> bool:
        """Whether ``key`` has a wrong password within the window."""
        recent = self._failures.get(key)
        return bool(recent) and now - recent[-1] <= _LOGIN_WINDOW_S


def _json_default(value: Any) -> Any:
    """What JSON cannot hold, as text: every datetime (wherever it sits) in Beijing time with its offset — the
    README promises Beijing time, and one JSON must not mix +00:00 with +08:00."""
    if isinstance(value, datetime):
        return _beijing(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _beijing(moment: datetime) -> str:
    """A moment in Beijing time with its offset (a naive one is UTC: how the ledger stores times)."""
    return beijing_iso(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def _as_json(value: Any) -> Response:
    return Response(json.dumps(value, ensure_ascii=False, default=_json_default), media_type="application/json")


def _name_key(name: str) -> str:
    """The per-name throttle's key: a digest, so a failed login keeps 32 characters whatever name it tried."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _no_nul(where: str, values: Any) -> None:
    """A NUL in a parameter is refused, naming it: PostgreSQL cannot store or compare one (it would be a 500)."""
    for key, value in values:
        if "\x00" in key or "\x00" in value:
            shown = key.replace("\x00", "\\x00")
            raise HTTPException(422, f"{where} parameter {shown!r}: a NUL character is not allowed")


def _query_without_nul(request: Request) -> None:
    _no_nul("query", request.query_params.multi_items())


_FORM_TYPE = "application/x-www-form-urlencoded"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _not_urlencoded(request: Request, *, required: bool) -> HTTPException | None:
    """A 415 for a body in another encoding (multipart, JSON): read as a form it would be empty, and a login
    would answer "wrong name or password" and count against the throttle. ``required``: no type is refused too."""
    media = _media_type(request)
    if media == _FORM_TYPE or (not media and not required):
        return None
    return HTTPException(415, f"send the form as {_FORM_TYPE} (as the console's own pages do), not "
                              f"{media or 'without a Content-Type'}")


async def _form(request: Request) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body, read up to :data:`FORM_BYTES_MAX` bytes (413 past it)."""
    refused = _not_urlencoded(request, required=False)
    if refused is not None:
        raise refused
    too_big = HTTPException(413, f"the form is larger than {FORM_BYTES_MAX} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_BYTES_MAX:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_BYTES_MAX:
            raise too_big
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    _no_nul("form", form.items())
    return form


def _same_origin(request: Request) -> bool:
    """The request comes from a page of this console: its ``Origin`` (else its ``Referer``) names the host the
    request was sent to. Browsers set ``Origin`` on every form post; a page elsewhere cannot forge it."""
    host = request.headers.get("host", "").lower()
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(source)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host


_SECRET_IN_TEXT = (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE),
                   re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE))


def _ledger_reason(exc: SQLAlchemyError) -> str:
    """The first line of what the database driver said, with any credentials in it masked."""
    origin = getattr(exc, "orig", None)
    lines = str(origin if origin is not None else exc).strip().splitlines()
    text = lines[0].strip() if lines else type(exc).__name__
    for pattern in _SECRET_IN_TEXT:
        text = pattern.sub(r"\1***@" if pattern is _SECRET_IN_TEXT[0] else r"\1***", text)
    return text[:300]


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: ``next=//evil.example`` or ``https://...`` lands on the overview."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return "/console/"


def create_console_app(runtime: Runtime, operators: OperatorBook) -> FastAPI:
    """The console for ``runtime``'s ledger, letting in the operators of ``operators``."""
    async def systems_as_configured() -> None:
        """Every page reads the systems file as it stands now (a stat a request; read again only when edited)."""
        runtime.refresh_systems()

    app = FastAPI(title="Tongban ops console", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(_query_without_nul), Depends(systems_as_configured)])
    secret = operators.secret  # fail now, with what to do, if no operator was ever added
    by_name, by_address = _LoginThrottle(_LOGIN_FAILURES_ALLOWED), _LoginThrottle(_LOGIN_FAILURES_PER_ADDRESS)
    checking = asyncio.Semaphore(_LOGIN_CHECKS_AT_ONCE)  # scrypt is slow on purpose: a few at a time, off the loop

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/console/api/")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return HTMLResponse(pages.error_page(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors())
        if is_api(request):
            return JSONResponse({"detail": where}, status_code=422)
        return HTMLResponse(pages.error_page(422, where), status_code=422)

    @app.exception_handler(SQLAlchemyError)
    async def ledger_error(request: Request, exc: SQLAlchemyError) -> Response:
        """The ledger is down, unreachable or refused a statement: the console's own page (JSON under the API)
        with a 503, saying so — never a bare "Internal Server Error", never the database URL."""
        reason = _ledger_reason(exc)
        unreachable = isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError)
        text = f"cannot reach the ledger: {reason}" if unreachable else f"the ledger refused the request: {reason}"
        _log.warning("%s %s: %s (%s)", request.method, request.url.path, text, type(exc).__name__)
        headers = {"Retry-After": "30"}
        if is_api(request):
            return JSONResponse({"detail": text}, status_code=503, headers=headers)
        return HTMLResponse(pages.error_page(503, text, refresh=request.method == "GET"), status_code=503,
                            headers=headers)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def current(request: Request) -> tuple[Operator, int] | None:
        """The operator the cookie is for, and the epoch of their sessions (which the forms' tokens are bound
        to); ``None`` when nobody valid is logged in."""
        session = sessions.read(secret, request.cookies.get(sessions.COOKIE))
        if session is None:
            return None
        role = operators.role_of(session.name, session.issued_ms)  # removed, demoted, logged out: the file wins
        if role is None:
            return None
        return Operator(session.name, role), operators.session_epoch(session.name)

    def token(who: tuple[Operator, int]) -> str:
        return sessions.csrf_token(secret, who[0].name, who[1])

    def token_ok(who: tuple[Operator, int], form: dict[str, str]) -> bool:
        return sessions.csrf_ok(secret, who[0].name, who[1], form.get("csrf"))

    def page(request: Request, title: str, body: str, *, who: tuple[Operator, int], refresh: bool = False,
             message: str = "", paused: bool = False) -> HTMLResponse:
        operator = who[0]
        return HTMLResponse(pages.layout(title, body, operator=operator.name, role=operator.role,
                                         csrf=token(who), refresh=refresh, message=message, paused=paused))

    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.get("/console/login", response_class=HTMLResponse)
    def login_form(next: str = "/console/", m: str | None = None) -> HTMLResponse:  # noqa: A002 - the parameter
        return HTMLResponse(pages.login_page(next_url=_safe_next(next), notice=sessions.read_flash(secret, m)))

    def to_login_from_form(back: str, text: str) -> RedirectResponse:
        """A form posted from a tab whose session ended: to the login page, saying what happened (a signed
        note, so no link can put words there), and back to ``back`` afterwards."""
        query = urlencode({"next": back, "m": sessions.flash(secret, text)})
        return RedirectResponse(f"/console/login?{query}", status_code=303)

    @app.post("/console/login")
    async def login(request: Request) -> Response:
        refused = _not_urlencoded(request, required=True)  # said, not counted: no password was sent to check
        if refused is not None:
            return HTMLResponse(pages.login_page(error=str(refused.detail)), status_code=refused.status_code)
        try:
            form = await _form(request)
        except HTTPException as exc:  # too big, a NUL: said on the login page, nothing else done
            return HTMLResponse(pages.login_page(error=str(exc.detail)), status_code=exc.status_code)
        name, password, target = form.get("name", ""), form.get("password", ""), _safe_next(form.get("next"))
        if len(name) > NAME_MAX:  # refused before the throttle keeps anything, or scrypt runs
            return HTMLResponse(pages.login_page(error=f"a login name has at most {NAME_MAX} characters",
                                                 next_url=target), status_code=400)
        key = _name_key(name)
        address = request.client.host if request.client else "?"
        now = time.monotonic()
        if by_name.blocked(key, now):
            return HTMLResponse(pages.login_page(error="too many wrong passwords for this name: wait five minutes",
                                                 next_url=target), status_code=429)
        address_over = by_address.blocked(address, now)
        if address_over:  # slowed, not shut: a name with no wrong password lately is still checked (an operator
            # behind the office proxy logs in), one that has one is refused unchecked — past the address limit
            # a guesser gets at most one try per name per window, not the name's five
            if by_name.failed_lately(key, now) or by_name.busy(key):
                return HTMLResponse(pages.login_page(error="too many wrong passwords from this address: wait five "
                                                           "minutes", next_url=target), status_code=429)
        # the attempt is counted from here, before anything is awaited: the checks above and these reservations
        # run without a switch of task, so parallel guesses cannot all pass the limits before one fails
        with by_name.checking(key), by_address.checking(address):
            if address_over:
                await asyncio.sleep(_OVER_ADDRESS_LIMIT_DELAY_S)
            async with checking:
                operator = await run_in_threadpool(operators.verify, name, password)
        if operator is None:
            by_name.failed(key, now)
            by_address.failed(address, now)
            if address_over:
                return HTMLResponse(pages.login_page(error="too many wrong passwords from this address: wait five "
                                                           "minutes", next_url=target), status_code=429)
            return HTMLResponse(pages.login_page(error="wrong name or password", next_url=target), status_code=401)
        by_name.succeeded(key)
        response = RedirectResponse(target, status_code=303)
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
        response.set_cookie(sessions.COOKIE, sessions.issue(secret, operator.name, operator.role),
                            max_age=sessions.SESSION_SECONDS, httponly=True, samesite="strict", path="/console",
                            secure=secure)
        return response

    @app.post("/console/logout")
    async def logout(request: Request) -> Response:
        """Logging out is never harmful: a post from a console page (its Origin) is enough, even with a token
        gone stale; the token is what lets a post without a usable Origin (a proxy rewriting Host) through."""
        who = current(request)
        form = await _form(request)
        if who is not None and not (token_ok(who, form) or _same_origin(request)):
            raise HTTPException(403, "the form is stale or not from the console: reload the page")
        if who is not None:  # the cookie stops working everywhere, not only in this browser
            await run_in_threadpool(operators.end_sessions, who[0].name)
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(sessions.COOKIE, path="/console")
        return response

    @app.get("/console/", response_class=HTMLResponse)
    def overview(request: Request, refresh: int = 1, kpi_period: str | None = None,
                 kpi_month_of: str = "applied") -> Response:
        """``kpi_period`` (2026-10, 2026) and ``kpi_month_of`` (applied, accepted, finished): the month the KPI
        table reports against the one before, as ``tongban kpi --period … --compare previous --month-of …``."""
        who = current(request)
        if who is None:
            return to_login(request)
        from gateway.ops import kpi as kpis

        kpi_period = kpi_period or None
        try:
            kpis.period_range(kpi_period)
        except ValueError as exc:
            raise HTTPException(400, f"kpi_period: {exc}") from None
        if kpi_month_of not in kpis.MONTHS_OF:
            raise HTTPException(400, f"kpi_month_of={kpi_month_of!r}: expected one of {', '.join(kpis.MONTHS_OF)}")
        view = console_overview(runtime, kpi_period=kpi_period, kpi_month_of=kpi_month_of)
        return page(request, "Overview", pages.overview_page(view, refresh=bool(refresh)), who=who,
                    refresh=bool(refresh), paused=not refresh)

    @app.get("/console/api/overview")
    def overview_json(request: Request) -> Response:
        if current(request) is None:
            raise HTTPException(401, "log in at /console/login")
        return _as_json(console_overview(runtime))

    @app.get("/console/api/kpi")
    def kpi_json(request: Request, by: str | None = None, period: str | None = None,
                 compare: str | None = None, month_of: str = "applied") -> Response:
        """The KPIs as ``tongban kpi --json`` gives them (from the stored facts; the nightly DAG refreshes them):
        ``by`` item|department|office|channel|month, ``period`` 2026-11 or 2026, ``compare`` previous|year,
        ``month_of`` applied|accepted|finished (which month of a case the period reads)."""
        if current(request) is None:
            raise HTTPException(401, "log in at /console/login")
        from gateway.ops import kpi as kpis

        if by is not None and by not in kpis.DIMENSIONS:
            raise HTTPException(400, f"by={by!r}: expected one of {', '.join(kpis.DIMENSIONS)}")
        if month_of not in kpis.MONTHS_OF:
            raise HTTPException(400, f"month_of={month_of!r}: expected one of {', '.join(kpis.MONTHS_OF)}")
        try:
            kpis.period_range(period)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        if compare is not None:
            if period is None or compare not in ("previous", "year"):
                raise HTTPException(400, "compare=previous|year needs period=YYYY-MM or YYYY")
            try:
                body: Any = kpis.compare(runtime.engine, period, against=compare, by=by,  # type: ignore[arg-type]
                                         month_of=month_of)  # type: ignore[arg-type]
            except ValueError as exc:  # a period with no period before it (year 1)
                raise HTTPException(400, str(exc)) from None
        else:
            body = {"month_of": month_of, "rows": [r.as_dict() for r in kpis.compute(  # type: ignore[arg-type]
                runtime.engine, by=by, period=period, month_of=month_of)]}  # type: ignore[arg-type]
        return _as_json(body)

    @app.get("/console/dead-letters", response_class=HTMLResponse)
    def dead_letters(request: Request, system: str | None = None, m: str | None = None,
                     before: int | None = Query(default=None, ge=1, le=2**31 - 1)) -> Response:
        who = current(request)
        if who is None:
            return to_login(request)
        system = system or None
        groups = [g.as_dict() for g in grouped_dead_letters(runtime.engine, system=system)]
        with runtime.engine.connect() as conn:
            listing = dead_letter_listing(conn, system=system, include_resolved=False, limit=DEAD_LETTER_PAGE + 1,
                                          newest_first=True, before=before)  # one more: is there an older page?
            more, listing = len(listing) > DEAD_LETTER_PAGE, listing[:DEAD_LETTER_PAGE]
            if system is not None and not listing and system not in runtime.systems.names():
                # a system outside the systems file (好差评 "evaluator", 12345 "hotline", a push target) is a
                # filter like any other while it has dead letters; a name nobody ever wrote is a 404
                if not dead_letter_listing(conn, system=system, include_resolved=True, limit=1):
                    raise HTTPException(404, f"no system {system!r} in the systems file or the dead letters")
        message = sessions.read_flash(secret, m)
        replayable = sorted(set(runtime.systems.names()) & {g["system"] for g in groups})
        others = sorted({g["system"] for g in groups} - set(runtime.systems.names()))
        body = pages.dead_letters_page(groups, listing, admin=who[0].is_admin,
                                       csrf=token(who), system=system,
                                       replayable=replayable, not_replayable=others, before=before,
                                       more=more)
        return page(request, "Dead letters", body, who=who, message=message)

    @app.get("/console/dead-letters/replay", response_class=HTMLResponse)
    def replay_by_get() -> Response:
        """The replay address opened as a page (a bookmark, a reload): what to do, not a 422 about an id."""
        raise HTTPException(405, "a replay is started with the Replay button on the dead letters page "
                                 "(/console/dead-letters), not by opening this address", headers={"Allow": "POST"})

    @app.get("/console/handoffs", response_class=HTMLResponse)
    def handoffs(request: Request, state: str | None = None,
                 offset: int = Query(default=0, ge=0, le=2**31 - 1)) -> Response:
        """Every hand-off, a page at a time, needing attention first; ``state`` filters."""
        who = current(request)
        if who is None:
            return to_login(request)
        state = state or None
        counts, _ = handoff_counts(runtime)
        rows = handoff_listing(runtime, state=state, offset=offset, limit=HANDOFF_PAGE + 1)
        body = pages.handoffs_page(rows[:HANDOFF_PAGE], counts, state=state, offset=offset, page=HANDOFF_PAGE,
                                   more=len(rows) > HANDOFF_PAGE)
        return page(request, "Hand-offs", body, who=who)

    @app.get("/console/dead-letters/{dead_letter_id}", response_class=HTMLResponse)
    def dead_letter(request: Request, dead_letter_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
        who = current(request)
        if who is None:
            return to_login(request)
        try:
            detail = dead_letter_detail(runtime.engine, dead_letter_id, runtime.pii)
        except ConfigError as exc:
            raise HTTPException(404, str(exc)) from exc
        return page(request, f"Dead letter {dead_letter_id}", pages.dead_letter_page(detail), who=who)

    @app.post("/console/dead-letters/replay")
    async def replay(request: Request) -> Response:
        who = current(request)
        if who is None:  # a tab left open past a logout: the login page, then the dead letters again
            return to_login_from_form("/console/dead-letters", "your session ended (logged out or expired): log "
                                      "in, then press Replay again")
        form = await _form(request)
        if not token_ok(who, form):  # a forged post from another origin has no token: refused, Origin or not
            raise HTTPException(403, "the form is stale or not from the console: reload the page")
        if not who[0].is_admin:
            raise HTTPException(403, f"{who[0].name} may read, not replay: an admin operator can")
        system = form.get("system") or None
        if system is not None and system not in runtime.systems.names():
            raise HTTPException(400, f"no system {system!r} in the systems file")
        from gateway.sync.reprocess import replay_dead_letters

        report = await run_in_threadpool(replay_dead_letters, runtime, system=system)
        text = _replay_message(report, system)
        if system is None:  # the same count as the overview's card: every open dead letter, of every kind
            with runtime.engine.connect() as conn:
                text += f"; {open_dead_letter_total(conn)} dead letters still open"
        else:
            text += f"; {report.still_open} record dead letters of {system} still open"
        query = urlencode({k: v for k, v in (("system", system or ""), ("m", sessions.flash(secret, text))) if v})
        return RedirectResponse(f"/console/dead-letters?{query}", status_code=303)

    return app


def _replay_message(report: ReplayReport, system: str | None) -> str:
    """The flash after a replay: what was replayed, how much of it is now in the ledger and how much was rejected
    again (as the CLI says it: "replayed" alone reads as fixed when none was), which systems were skipped and
    why (a running sync holds their lease), so a partial replay never reads as "not replayed"."""
    if system is not None and system in report.skipped:
        return f"not replayed: {report.skipped[system]} (try again once it ends)"
    counts = report.systems.values()
    ledger, rejected = sum(c.inserted + c.updated for c in counts), sum(c.rejected for c in counts)
    outcome = f"; now in the ledger {ledger}, rejected again {rejected}"
    if report.requeued_pushes:
        outcome += f", pushes queued again {report.requeued_pushes}"
    return (report.summary() + outcome
            + (" — try the skipped again once their sync ends" if report.skipped else ""))


__all__ = ["create_console_app"]
