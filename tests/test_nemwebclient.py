"""The NEMweb client against a real HTTP server on 127.0.0.1 (a fake NEMweb), on a fake clock:
pacing, conditional indexes, 403, size caps, cut bodies, retries, and no secret in errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from nemlive.common.retry import RetryStopped
from nemlive.extract import nemweb
from nemlive.extract.nemwebclient import (
    NemwebBlocked,
    NemwebClient,
    NemwebError,
    NemwebNotFound,
)
from tests.support_nemweb import T0, FakeClock, FakeNemweb, Server, file_name

SCADA_DIR = nemweb.current_dir(nemweb.SCADA)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc0=T0 + 3600.0)


@pytest.fixture
def fake(clock: FakeClock) -> FakeNemweb:
    return FakeNemweb(clock, start=T0, current_span=1800.0)


@pytest.fixture
def server(fake: FakeNemweb) -> Iterator[Server]:
    with Server(fake) as srv:
        yield srv


def client_for(url: str, clock: FakeClock, **kw: object) -> NemwebClient:
    return NemwebClient(url, clock=clock.wall, wait=clock.sleep, draw=lambda: 0.0, **kw)  # type: ignore[arg-type]


def test_requests_start_at_most_once_a_second(
    server: Server, clock: FakeClock, fake: FakeNemweb
) -> None:
    client = client_for(server.url, clock)
    names = client.index(SCADA_DIR)
    assert names and all(nemweb.parse_file_name(n) for n in names)
    for name in names[:3]:
        assert client.get(SCADA_DIR + name)[:2] == b"PK"
    # The fake clock only moves in the client's waits: each start waits out the second.
    assert clock.waits == [1.0, 1.0, 1.0]
    assert client.stats.sent == {"index": 1, "file": 3}
    assert client.stats.bytes > 0


def test_time_spent_elsewhere_counts_toward_the_second(server: Server, clock: FakeClock) -> None:
    client = client_for(server.url, clock)
    client.index(SCADA_DIR)
    clock.advance(0.75)
    client.index(SCADA_DIR)
    clock.advance(5.0)
    client.index(SCADA_DIR)
    assert clock.waits == [pytest.approx(0.25)]


def test_an_unchanged_index_is_a_304_and_none(
    server: Server, clock: FakeClock, fake: FakeNemweb
) -> None:
    client = client_for(server.url, clock)
    first = client.index(SCADA_DIR)
    assert first is not None
    assert client.index_modified(SCADA_DIR) is not None
    assert client.index(SCADA_DIR) is None
    sent = fake.log[-1][1]
    assert sent.get("If-None-Match") and sent.get("If-Modified-Since")
    assert client.stats.not_modified == 1
    clock.advance(300.0)  # a new file: a new ETag
    again = client.index(SCADA_DIR)
    assert again is not None and len(again) >= len(first)


def test_a_403_raises_blocked_at_once(server: Server, clock: FakeClock, fake: FakeNemweb) -> None:
    fake.forbid = 5
    client = client_for(server.url, clock)
    with pytest.raises(NemwebBlocked, match=r"refused .*127\.0\.0\.1.* \(403\)"):
        client.index(SCADA_DIR)
    assert client.stats.requests == 1


def test_503_is_retried_with_backoff_then_given_up(
    server: Server, clock: FakeClock, fake: FakeNemweb
) -> None:
    name = fake.listing(nemweb.SCADA)[0]
    fake.fail[SCADA_DIR + name] = 1
    client = client_for(server.url, clock)
    assert client.get(SCADA_DIR + name)[:2] == b"PK"
    assert client.stats.retries == 1 and fake.requests[SCADA_DIR + name] == 2
    fake.fail[SCADA_DIR + name] = 10
    with pytest.raises(NemwebError, match="failed 3 times, last: HTTP 503"):
        client.get(SCADA_DIR + name)


def test_a_cut_body_is_retried_never_used(
    server: Server, clock: FakeClock, fake: FakeNemweb
) -> None:
    name = fake.listing(nemweb.SCADA)[0]
    path = SCADA_DIR + name
    fake.truncate[path] = 1
    client = client_for(server.url, clock)
    data = client.get(path)
    assert fake.requests[path] == 2 and len(data) > 100
    fake.truncate[path] = 5
    with pytest.raises(NemwebError, match="cut"):
        client.get(path)


class _BrokenZip(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"PK\x03\x04 this is not a whole zip"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_zip_that_does_not_open_is_an_error(clock: FakeClock) -> None:
    with Server(None, _BrokenZip) as srv:
        client = client_for(srv.url, clock)
        with pytest.raises(NemwebError, match="zip that does not open"):
            client.get("/Reports/Current/Dispatch_SCADA/x.zip")
        assert client.stats.requests == 3
        # Not a zip by name: the bytes are the answer.
        assert client.get("/Reports/Current/CDEII/x.CSV").startswith(b"PK")


def test_bodies_over_the_cap_fail_declared_or_streamed(
    server: Server, clock: FakeClock, fake: FakeNemweb
) -> None:
    name = fake.listing(nemweb.SCADA)[0]
    client = client_for(server.url, clock, max_bytes=100)
    with pytest.raises(NemwebError, match=r"over 0 MiB: not a NEMweb file"):
        client.get(SCADA_DIR + name)
    small_index = client_for(server.url, clock, max_index_bytes=50)
    with pytest.raises(NemwebError, match="over"):
        small_index.index(SCADA_DIR)


def test_a_missing_file_is_not_found(server: Server, clock: FakeClock) -> None:
    client = client_for(server.url, clock)
    with pytest.raises(NemwebNotFound, match=r"has no .*PUBLIC_DISPATCHSCADA_.* \(404\)"):
        client.get(SCADA_DIR + file_name(nemweb.SCADA, T0 - 86_400 * 30, 1))


def test_errors_never_carry_credentials_or_queries(clock: FakeClock, fake: FakeNemweb) -> None:
    fake.forbid = 1
    with Server(fake) as srv:
        secret_url = srv.url.replace("http://", "http://user:s3cret@") + "/?token=hush"
        client = client_for(secret_url.split("/?")[0], clock)
        with pytest.raises(NemwebBlocked) as caught:
            client.index(SCADA_DIR + "?token=hush")
    text = str(caught.value)
    assert "s3cret" not in text and "hush" not in text and "user" not in text
    assert "\n" not in text


def test_connection_refused_is_retried_then_one_line(clock: FakeClock) -> None:
    with Server(None, _BrokenZip) as srv:
        url = srv.url
    client = client_for(url, clock)  # the server is gone
    with pytest.raises(NemwebError, match="connection failed") as caught:
        client.index(SCADA_DIR)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    assert client.stats.requests == 3


class _Trickle(requests.Session):
    """Answers every GET with a body of 30 chunks, each taking 10 s on the fake clock."""

    def __init__(self, clock: FakeClock, stop_after: int | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.stop = threading.Event()
        self.stop_after = stop_after

    def get(self, url: str, **kw: object) -> requests.Response:  # type: ignore[override]
        session = self

        class Slow:
            """A urllib3 body whose every read brings one byte, 10 s after the last."""

            sent = 0

            def read1(self, amt: int, decode_content: bool = True) -> bytes:
                if self.sent == 30:
                    return b""
                session.clock.advance(10.0)
                if session.stop_after is not None and self.sent >= session.stop_after:
                    session.stop.set()
                self.sent += 1
                return b"x"

            def close(self) -> None:
                pass

        response = requests.Response()
        response.raw = Slow()
        response.status_code = 200
        response.headers = CaseInsensitiveDict({"Content-Length": "30"})
        return response


def test_a_trickling_body_is_cut_at_the_deadline_and_retried(clock: FakeClock) -> None:
    client = client_for("http://nemweb.invalid", clock, session=_Trickle(clock))
    with pytest.raises(NemwebError, match="no whole answer within 120 s"):
        client.get("/Reports/Current/CDEII/x.CSV")
    assert client.stats.requests == 3


def test_a_stop_ends_a_trickling_body(clock: FakeClock) -> None:
    session = _Trickle(clock, stop_after=2)
    client = client_for("http://nemweb.invalid", clock, session=session, stop=session.stop)
    with pytest.raises(RetryStopped):
        client.get("/Reports/Current/CDEII/x.CSV")
    assert client.stats.requests == 1 and clock.wall() == 30.0
