"""``/docs`` (Swagger UI) and ``/redoc`` served from packaged assets, never from a CDN.

Government intranets (and these test machines) reach no CDN, and FastAPI's default pages load their scripts
from one, so they render blank there. The scripts and styles ship in the ``fastapi-offline`` package (MIT); this
module serves them under ``/docs-assets`` and points FastAPI's own page templates at them.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
OFFLINE_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                  "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")
"""The pages' Content-Security-Policy: nothing but this server, should a later version of the scripts call out again
(an intranet machine would wait on it, and a page that calls out tells the outside who reads the district's API)."""
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one address ReDoc's script calls out to (its "API docs by Redocly" logo); the script is served with it
pointing at the docs' own icon instead."""

def install_offline_docs(app: FastAPI) -> None:
    """Add ``/docs`` and ``/redoc`` (the app must be created with ``docs_url=None, redoc_url=None``)."""
    static = files("fastapi_offline") / "static"
    redoc_js = (static / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_CDN_LOGO,
                                                                                   f"{ASSETS}/favicon.png")

    @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)  # before the mount: this one wins
    async def redoc_script() -> Response:
        return Response(redoc_js, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _offline(get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} — API",
                                            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                            swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                            swagger_favicon_url=f"{ASSETS}/favicon.png"))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _offline(get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} — API",
                                       redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                                       redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False))

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:  # browsers ask for it on every page; answer with the docs' icon
        return RedirectResponse(f"{ASSETS}/favicon.png", status_code=308)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = OFFLINE_POLICY
    return page


__all__ = ["ASSETS", "OFFLINE_POLICY", "install_offline_docs"]
