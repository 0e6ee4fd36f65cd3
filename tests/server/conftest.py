"""Fixtures of the server tests: one real server for the session, and clients of it."""

from __future__ import annotations

import pytest
from serverproc import API_KEY, TEST_CONFIG, Server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server"), TEST_CONFIG, "--api-key", API_KEY)
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture
def aclient(server):
    import openai

    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {API_KEY}"}
