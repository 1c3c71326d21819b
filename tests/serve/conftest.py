"""The serve tests' fixtures: a TestClient over the app with the fake model (the test files
skip themselves when the serve extra or httpx is missing)."""

from __future__ import annotations

import warnings

import pytest

from support import FakeColorizer


@pytest.fixture
def make_client(tmp_path):
    """``make_client(model=..., **ServeConfig fields)``: a TestClient with the app running."""
    with warnings.catch_warnings():  # Starlette's note that it would rather have httpx2
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient
    from vidcolor.serve.app import create_app

    clients = []

    def make(model=None, base_url="http://127.0.0.1", data=None, **settings):
        app = create_app(data or tmp_path / "data", model=model or FakeColorizer(), **settings)
        client = TestClient(app, base_url=base_url, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
