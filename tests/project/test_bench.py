"""The benches stay runnable: each imports (so a module of the service they measure that moves
breaks a test, not the next run of `make bench`) and says how it is run; the harness reads
replies off a kept-alive connection one at a time."""

from __future__ import annotations

import socket

import pytest

from bench import floor_app, smorest_floor_app
from bench.__main__ import BENCHES, listing, main
from bench.harness import read_reply, serve_one, wsgi_request
from soulsync.questionnaire import CONTRACT_EXAMPLE


def test_every_bench_is_listed_with_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == listing().strip()
    for name in BENCHES:
        line = next(line for line in printed.splitlines() if line.strip().startswith(name))
        assert len(line.split()) > 3, line  # a summary beside the name


@pytest.mark.parametrize("name", BENCHES)
def test_every_bench_takes_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([name, "--help"])
    assert stopped.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_an_unknown_bench_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert "no bench 'nope'" in capsys.readouterr().err


def test_replies_on_a_kept_alive_connection_are_read_one_at_a_time() -> None:
    server, client = socket.socketpair()
    with server, client:
        server.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 404 NOT FOUND\r\ncontent-length: 4\r\n\r\nnope"
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nto the end"
        )
        server.shutdown(socket.SHUT_WR)
        buffer = bytearray()
        assert read_reply(client, buffer) == (200, b"ok")
        assert read_reply(client, buffer) == (404, b"nope")
        assert read_reply(client, buffer) == (400, b"to the end")


def test_each_environ_can_be_read_again() -> None:
    make = wsgi_request("/predict", {"Gender": 1}, {"Accept-Language": "id"})
    first, second = make(), make()
    assert first["wsgi.input"].read() == second["wsgi.input"].read() == b'{"Gender": 1}'
    assert first["HTTP_ACCEPT_LANGUAGE"] == "id" and first["REQUEST_METHOD"] == "POST"


def test_both_floors_answer_the_contract_example() -> None:
    """The benches' floors stay what they stand for: each answers POST /predict."""
    for app in (floor_app.app, smorest_floor_app.app):
        status, body = serve_one(app, wsgi_request("/predict", CONTRACT_EXAMPLE)())
        assert status == "200 OK", body
        assert b"Prediction successful" in body
