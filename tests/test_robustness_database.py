"""PostgreSQL unreachable for a few seconds: requests answer 503 in the error envelope, and the same server recovers
by itself (pool pre-ping) once the database is back, without a restart."""

import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import requests

from bench.runtime import Server
from tests.conftest import DATABASE_URL, postgres_only
from tests.factories import auth, make_member


class CuttableProxy:
    """A TCP proxy in a thread, forwarding a local port to PostgreSQL; ``cut()`` drops every connection and refuses
    new ones (accepted, then closed at once) until ``restore()``."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.sockets = set()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.up.clear()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self):
        self.up.set()

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


def through(proxy):
    parts = urlsplit(DATABASE_URL)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def get_me(url, headers):
    return requests.get(url + "/api/v1/me", headers=headers, timeout=10)


@postgres_only
def test_database_outage_answers_503_then_recovers_without_restart(tmp_path):
    headers = auth(make_member(name="断网测试"))
    parts = urlsplit(DATABASE_URL)
    proxy = CuttableProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    server = Server(through(proxy), workers=1, log_path=tmp_path / "gunicorn.log").start()
    try:
        pid = server.process.pid
        assert get_me(server.url, headers).status_code == 200

        proxy.cut()
        for _ in range(3):
            response = get_me(server.url, headers)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
        health = requests.get(server.url + "/healthz", timeout=10)
        assert (health.status_code, health.json()) == (503, {"status": "error", "database": "error"})

        proxy.restore()
        deadline = time.monotonic() + 10
        while (response := get_me(server.url, headers)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["name"] == "断网测试"
        assert server.process.pid == pid and server.process.poll() is None
    finally:
        server.stop()
        proxy.close()
