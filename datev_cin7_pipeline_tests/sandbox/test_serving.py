"""serve_in_thread: a real server on a free loopback port, stoppable, and able to drop a connection."""

from __future__ import annotations

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from datev_cin7_pipeline.sandbox.serving import DropConnection, serve_in_thread


async def hello(request: Request) -> Response:
    return PlainTextResponse(f"hello from {request.url.port}")


async def drop(_: Request) -> Response:
    return DropConnection()


APP = Starlette(routes=[Route("/hello", hello), Route("/drop", drop)])


def test_serves_on_a_free_port_and_stops() -> None:
    with serve_in_thread(APP) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert requests.get(server.url + "/hello", timeout=5).text == f"hello from {server.port}"
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/hello", timeout=5)


def test_two_servers_get_different_ports() -> None:
    with serve_in_thread(APP) as first, serve_in_thread(APP) as second:
        assert first.port != second.port
        assert requests.get(second.url + "/hello", timeout=5).ok


def test_drop_connection_closes_the_socket_without_a_response() -> None:
    with serve_in_thread(APP) as server, requests.Session() as session:
        with pytest.raises(requests.ConnectionError, match="without response"):
            session.get(server.url + "/drop", timeout=5)
        assert session.get(server.url + "/hello", timeout=5).status_code == 200


def test_a_busy_port_is_refused() -> None:
    with serve_in_thread(APP) as server, pytest.raises(OSError, match="in use"):
        serve_in_thread(APP, port=server.port)
