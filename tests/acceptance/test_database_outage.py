"""A PostgreSQL outage: 503s while it lasts, full service after, no data lost.

A TCP proxy of this module stands between the server and PostgreSQL. One
outage is staged for the whole module: a finished export first, two exports
started just before the cut, then every connection cut and new ones refused
while each kind of request is sent, then the database restored. The tests
read what was observed: requests that need the database get a JSON:API 503
with ``retry-after`` and never a 500, requests that do not are answered as
usual, the API works again without a restart, the caught exports end
FINISHED or ERRORED within 60 s of the database's return, and the stored
data and the earlier export are unchanged.

The jobs run on the embedded thread queue; with ``SNYK_EXPORT_LONG_TESTS=1``
the same outage is staged again with a Procrastinate worker. Needs the test
PostgreSQL server: skipped without it, failed when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from exporting import EVER, VERSION, Finished, body, expected_csv, export, joined
from hostile import LONG
from liveserver import SMALL, LiveServer, start_live_server
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.catalog import datasets
from snyk_export.errors import ConfigurationError

ISSUES = datasets()["issues"]
COLUMNS = ["PROBLEM_ID", "SCORE", "ISSUE_SEVERITY"]
TABLES = [*datasets(), "exports", "credentials", "orgs", "groups"]
VISIBLE = (
    '"ISSUE_DELETED_AT" IS NULL AND "PROJECT_DELETED_AT" IS NULL '
    'AND "GROUP_DELETED_AT" IS NULL AND "PROJECT_IS_MONITORED" IS NOT FALSE'
)
RECOVERY_DEADLINE_SECONDS = 60
# The embedded thread queue always; Procrastinate's worker too in long runs.
QUEUES = ["threads", "procrastinate"] if LONG else ["threads"]
QUEUE_SETTINGS: dict[str, dict[str, Any]] = {
    "threads": {"job_queue": "threads"},
    "procrastinate": {
        "job_queue": "procrastinate",
        "embedded_worker": True,
        "heartbeat_seconds": 1,
        "stalled_worker_seconds": 5,
    },
}
# Longer than any wait of the server's own (its connection pool waits 30 s).
OUTAGE_CLIENT_TIMEOUT_SECONDS = 90


class CuttableProxy:
    """Forwards 127.0.0.1:port to a target; can cut every link and refuse new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._links: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)  # so the accept loop notices a cut
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._listener is listener:
                with contextlib.suppress(TimeoutError):
                    client, _ = listener.accept()
                    self._link(client)

    def _link(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        client.settimeout(None)
        upstream.settimeout(None)
        with self._lock:
            self._links |= {client, upstream}
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(
                target=self._pump, args=(source, sink), daemon=True
            ).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        self._drop([source, sink])

    def _drop(self, links: list[socket.socket]) -> None:
        for link in links:
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()
        with self._lock:
            self._links.difference_update(links)

    def cut(self) -> None:
        """Close every connection and stop listening: new ones are refused."""
        self._listener = None
        time.sleep(0.1)  # the accept loop closes the listener
        with self._lock:
            links = list(self._links)
        self._drop(links)

    def restore(self) -> None:
        """Listen again, on the same port; nothing to do if already listening."""
        if self._listener is None:
            self.start()


def through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Answer:
    """One response seen during the outage."""

    name: str
    status: int
    headers: dict[str, str]
    document: Any
    seconds: float


@dataclass
class Outage:
    """What the staged outage showed, for the tests to judge."""

    server: LiveServer
    direct_url: str
    earlier: Finished
    caught: list[str]
    counts_before: dict[str, int]
    during: list[Answer] = field(default_factory=list)
    seconds_to_recover: float | None = None
    after: Finished | None = None
    caught_status: dict[str, str] = field(default_factory=dict)
    seconds_until_caught_ended: float | None = None
    second_runner_refused: dict[str, bool] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)
    earlier_again: list[bytes] = field(default_factory=list)


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        return {
            table: connection.execute(
                f'SELECT count(*) FROM "{table}"'.encode()
            ).fetchall()[0][0]
            for table in TABLES
        }


def schema_url(server_url: str, schema: str) -> str:
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options={quote(f'-csearch_path={schema}', safe='')}"


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL whose connections see only a new schema, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"'.encode())
    try:
        yield schema_url(server_url, schema)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


def requests_during_outage(
    server: LiveServer, earlier: Finished
) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each kind of request, as (method, url, options)."""
    api, group, org = server.api, server.tenant.group_id, server.tenant.orgs[0].id
    token = {"Authorization": f"token {server.tokens['group']}"}
    created = {"json": body("issues", COLUMNS, {"updated": EVER}), "headers": token}
    read = {"headers": token}
    return {
        "status": (
            "GET",
            f"{api}/groups/{group}/jobs/export/{earlier.export_id}",
            read,
        ),
        "results": ("GET", f"{api}/groups/{group}/export/{earlier.export_id}", read),
        "unknown export": ("GET", f"{api}/groups/{group}/export/{uuid.uuid4()}", read),
        "group create": ("POST", f"{api}/groups/{group}/export", created),
        "org create": ("POST", f"{api}/orgs/{org}/export", created),
        "self": ("GET", f"{api}/self", read),
        "org": ("GET", f"{api}/orgs/{org}", read),
        "group orgs": ("GET", f"{api}/groups/{group}/orgs", read),
        "unknown token": (
            "GET",
            f"{api}/self",
            {"headers": {"Authorization": "token nope"}},
        ),
        "download": ("GET", earlier.attributes["results"][0]["url"], {}),
    }


def send(name: str, method: str, url: str, options: dict[str, Any]) -> Answer:
    started = time.monotonic()
    response = httpx.request(
        method,
        url,
        params={"version": VERSION} if "/dl/" not in url else None,
        timeout=OUTAGE_CLIENT_TIMEOUT_SECONDS,
        **options,
    )
    document = (
        response.json()
        if "json" in response.headers.get("content-type", "")
        else response.text
    )
    return Answer(
        name,
        response.status_code,
        dict(response.headers),
        document,
        time.monotonic() - started,
    )


def send_all(requests: dict[str, tuple[str, str, dict[str, Any]]]) -> list[Answer]:
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(send, name, *r) for name, r in requests.items()]
        return [future.result() for future in futures]


def wait_for_recovery(server: LiveServer, earlier: Finished) -> float:
    """Seconds until the API answers again once the database is back."""
    started = time.monotonic()
    path = f"{server.api}/groups/{server.tenant.group_id}/jobs/export"
    token = {"Authorization": f"token {server.tokens['group']}"}
    with httpx.Client(headers=token, timeout=OUTAGE_CLIENT_TIMEOUT_SECONDS) as client:
        url = f"{path}/{earlier.export_id}"
        while client.get(url, params={"version": VERSION}).status_code != 200:
            elapsed = time.monotonic() - started
            assert elapsed < RECOVERY_DEADLINE_SECONDS, "the API did not recover"
            time.sleep(0.2)
    return time.monotonic() - started


def wait_for_caught(
    server: LiveServer, caught: list[str], deadline: float
) -> dict[str, str]:
    client = server.client("group")
    group = server.tenant.group_id
    while True:
        statuses = {
            export_id: client.get(
                f"/groups/{group}/jobs/export/{export_id}", params={"version": VERSION}
            ).json()["data"]["attributes"]["status"]
            for export_id in caught
        }
        ended = all(s in ("FINISHED", "ERRORED") for s in statuses.values())
        if ended or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def start_export(server: LiveServer, columns: list[str] | None) -> str:
    response = server.client("group").post(
        f"/groups/{server.tenant.group_id}/export",
        params={"version": VERSION},
        json=body("issues", columns, {"updated": EVER}),
    )
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


@pytest.fixture(scope="module", params=QUEUES)
def outage(
    request: pytest.FixtureRequest,
    postgres_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Outage]:
    # One outage serves every test of the module: postgres_url is per test.
    with fresh_schema(postgres_server) as database:
        yield from staged_outage(request.param, database, tmp_path_factory)


def staged_outage(
    queue: str, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outage]:
    parts = urlsplit(database)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    server = start_live_server(
        tmp_path_factory.mktemp(f"outage-{queue}"),
        SMALL,
        database_url=through(database, proxy.port),
        **QUEUE_SETTINGS[queue],
        max_rows_per_file=700,
        export_post_limit="none",
        request_limit="none",
    )
    try:
        yield stage(server, proxy, database, queue)
    finally:
        proxy.restore()  # lets the server close its connections cleanly
        server.stop()
        proxy.cut()


def second_runner_refused(url: str) -> bool:
    """Whether another process may not run the jobs of this database now."""
    backend = PostgresBackend(url, max_connections=1)
    try:
        backend.claim_job_runner()
    except ConfigurationError:
        return True
    finally:
        backend.close()
    return False


def stage(
    server: LiveServer, proxy: CuttableProxy, direct_url: str, queue: str
) -> Outage:
    client = server.client("group")
    group = server.tenant.group_id
    earlier = export(
        client, "groups", group, body("issues", COLUMNS, {"updated": EVER})
    )
    record = Outage(server, direct_url, earlier, [], table_counts(direct_url))
    if queue == "threads":
        record.second_runner_refused["before"] = second_runner_refused(direct_url)
    record.caught = [start_export(server, None), start_export(server, COLUMNS)]

    proxy.cut()
    record.during = send_all(requests_during_outage(server, earlier))
    record.during.append(send("openapi", "GET", f"{server.api}/openapi", {}))
    record.during.append(
        send(
            "no token", "GET", f"{server.api}/groups/{group}/export/{uuid.uuid4()}", {}
        )
    )
    # A little longer than the server's own waits, so that no wait begun
    # during the outage can end after it.
    time.sleep(2)
    proxy.restore()

    back = time.monotonic()
    record.seconds_to_recover = wait_for_recovery(server, earlier)
    record.after = export(
        client, "groups", group, body("issues", COLUMNS, {"updated": EVER})
    )
    record.earlier_again = [
        httpx.get(item["url"], timeout=30).content
        for item in client.get(
            f"/groups/{group}/jobs/export/{earlier.export_id}",
            params={"version": VERSION},
        ).json()["data"]["attributes"]["results"]
    ]
    record.caught_status = wait_for_caught(
        server, record.caught, back + RECOVERY_DEADLINE_SECONDS
    )
    record.seconds_until_caught_ended = time.monotonic() - back
    if queue == "threads":
        # The runner renews its claim every few seconds once it can connect.
        deadline = time.monotonic() + 15
        while not (refused := second_runner_refused(direct_url)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        record.second_runner_refused["after"] = refused
    record.counts_after = table_counts(direct_url)
    return record


def needs_database(answer: Answer) -> bool:
    return answer.name not in ("openapi", "no token")


def test_every_request_that_needs_the_database_gets_a_json_api_503(
    outage: Outage,
) -> None:
    answers = [a for a in outage.during if needs_database(a)]
    assert len(answers) == 10
    for answer in answers:
        assert answer.status == 503, (answer.name, answer.status, answer.document)
        assert answer.headers["content-type"] == "application/vnd.api+json"
        assert int(answer.headers["retry-after"]) >= 1
        assert uuid.UUID(answer.headers["snyk-request-id"])
        (item,) = answer.document["errors"]
        assert (item["status"], item["code"]) == ("503", "SNYK-0009")
        assert "database" in item["detail"]


def test_requests_that_need_no_database_are_answered_as_usual(outage: Outage) -> None:
    statuses = {a.name: a.status for a in outage.during if not needs_database(a)}
    assert statuses == {"openapi": 200, "no token": 401}


def test_the_503s_of_an_outage_come_within_5_seconds(outage: Outage) -> None:
    slowest = max(a.seconds for a in outage.during if needs_database(a))
    assert slowest < 5, f"the slowest 503 took {slowest:.1f} s"


def test_the_api_works_again_without_a_restart(outage: Outage) -> None:
    # Measured from 0.05 s to 27.5 s: psycopg_pool's reconnection backs off
    # (1, 2, 4, 8, 16 s...) while the database is away.
    assert outage.seconds_to_recover is not None
    assert outage.seconds_to_recover < RECOVERY_DEADLINE_SECONDS
    assert outage.after is not None
    assert_is_the_stored_data(outage, outage.after)
    assert outage.earlier_again == outage.earlier.parts


def test_exports_caught_by_the_outage_end_finished_or_errored(outage: Outage) -> None:
    ended = set(outage.caught_status.values()) <= {"FINISHED", "ERRORED"}
    assert ended, (outage.caught_status, outage.seconds_until_caught_ended)
    for export_id, status in outage.caught_status.items():
        stored = outage.server.backend.get_export(export_id)
        assert stored is not None
        if status == "ERRORED":
            assert stored.failure, export_id
        else:
            assert stored.row_count == outage.earlier.attributes["row_count"]


def test_a_second_thread_runner_is_refused_while_one_serves(outage: Outage) -> None:
    if not outage.second_runner_refused:
        pytest.skip("only the thread queue claims the database for one process")
    assert outage.second_runner_refused["before"]


def test_a_second_thread_runner_is_still_refused_after_the_outage(
    outage: Outage,
) -> None:
    if not outage.second_runner_refused:
        pytest.skip("only the thread queue claims the database for one process")
    assert outage.second_runner_refused["after"]


def test_the_stored_data_is_intact(outage: Outage) -> None:
    # The earlier export, the two caught ones and the one after; the POSTs
    # sent during the outage created nothing.
    created = len(outage.caught) + 2
    exports = outage.counts_before["exports"] + created - 1
    assert outage.counts_after == {**outage.counts_before, "exports": exports}
    assert_is_the_stored_data(outage, outage.earlier)


def assert_is_the_stored_data(outage: Outage, result: Finished) -> None:
    """The export is the stored rows in natural-key order, byte for byte."""
    select = ", ".join(f'"{c}"' for c in COLUMNS)
    order = ", ".join(f'"{c}" COLLATE "C"' for c in ISSUES.order_by)
    sql = (
        f'SELECT {select} FROM issues WHERE "GROUP_PUBLIC_ID" = %s AND {VISIBLE} '
        f"ORDER BY {order}"
    )
    with psycopg.connect(outage.direct_url) as connection:
        rows = connection.execute(
            sql.encode(), [outage.server.tenant.group_id]
        ).fetchall()
    chosen = [ISSUES.column(name) for name in COLUMNS]
    assert joined(result.parts) == expected_csv(chosen, rows)
    assert result.attributes["row_count"] == len(rows) > 1000


def test_the_proxy_url_keeps_user_database_and_options() -> None:
    url = "postgresql://postgres@db.example:6543/test?options=-csearch_path%3Dx"

    assert through(url, 1234) == (
        "postgresql://postgres@127.0.0.1:1234/test?options=-csearch_path%3Dx"
    )
