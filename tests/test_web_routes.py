"""The app's own sign-in routes (dashboard.routes) through Starlette's TestClient:
the cookie is HttpOnly and SameSite=Strict always, and Secure exactly when the browser
reached us over HTTPS, directly or through a proxy named in LINPU_TRUSTED_PROXIES."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.routes import COOKIE_NAME, ROUTES, SESSION_PATH, SIGN_OUT_PATH, TOKEN_HEADER
from governance.db import make_engine, transaction
from governance.login import SessionExpired, check_token, issue_token
from governance.settings import get_settings


@pytest.fixture
def routes_db(demo_database, tmp_path, monkeypatch) -> str:
    """A private copy of the demo, the app pointed at it, no proxy trusted."""
    target = tmp_path / "routes.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    monkeypatch.setenv("LINPU_DATABASE_URL", url)
    monkeypatch.delenv("LINPU_TRUSTED_PROXIES", raising=False)
    get_settings.cache_clear()
    st.cache_resource.clear()
    yield url
    get_settings.cache_clear()
    st.cache_resource.clear()


def token_for(url: str, username: str = "leader01") -> str:
    engine = make_engine(url)
    with transaction(engine) as session:
        token = issue_token(username, session=session)
    engine.dispose()
    return token


def adopt(client: TestClient, token: str, **headers: str):
    origin = f"{client.base_url.scheme}://testserver"
    return client.post(SESSION_PATH, headers={TOKEN_HEADER: token, "origin": origin, **headers})


def set_cookie_header(response) -> str:
    assert response.status_code == 204, response.text
    return response.headers["set-cookie"].lower()


def test_over_plain_http_the_cookie_is_httponly_strict_and_not_secure(routes_db):
    token = token_for(routes_db)
    header = set_cookie_header(adopt(TestClient(Starlette(routes=ROUTES)), token))
    assert f"{COOKIE_NAME}={token.lower()}" in header
    assert "httponly" in header and "samesite=strict" in header
    assert "secure" not in header
    assert "leader01" not in header


def test_served_over_https_the_cookie_is_secure(routes_db):
    client = TestClient(Starlette(routes=ROUTES), base_url="https://testserver")
    assert "secure" in set_cookie_header(adopt(client, token_for(routes_db)))


def test_x_forwarded_proto_makes_it_secure_only_from_a_trusted_proxy(routes_db, monkeypatch):
    client = TestClient(Starlette(routes=ROUTES))  # the peer's address is "testclient"
    untrusted = set_cookie_header(adopt(client, token_for(routes_db), **{"x-forwarded-proto": "https"}))
    assert "secure" not in untrusted
    monkeypatch.setenv("LINPU_TRUSTED_PROXIES", "10.0.0.9, testclient")
    get_settings.cache_clear()
    trusted = set_cookie_header(adopt(client, token_for(routes_db), **{"x-forwarded-proto": "https"}))
    assert "secure" in trusted and "httponly" in trusted and "samesite=strict" in trusted
    plain = set_cookie_header(adopt(client, token_for(routes_db), **{"x-forwarded-proto": "http"}))
    assert "secure" not in plain


def test_another_site_or_an_ended_token_gets_no_cookie(routes_db):
    client = TestClient(Starlette(routes=ROUTES))
    token = token_for(routes_db)
    refused = client.post(SESSION_PATH, headers={TOKEN_HEADER: token, "origin": "https://evil.example"})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert client.post(SESSION_PATH, headers={TOKEN_HEADER: "forged", "origin": "http://testserver"}
                       ).status_code == 401
    # Sign-out through the route ends the token on the server and clears the cookie.
    client.cookies.set(COOKIE_NAME, token)
    out = client.post(SIGN_OUT_PATH, headers={"origin": "http://testserver"})
    assert out.status_code == 204 and f'{COOKIE_NAME}=""' in out.headers["set-cookie"]
    with pytest.raises(SessionExpired):
        check_token(token, timeout=timedelta(minutes=30))
