"""A local stand-in for the part of GitLab's REST API that netpipe uses: the notes of a
merge request. It listens on 127.0.0.1 only, keeps the notes in memory and records every
call, so tests can see exactly what a pipeline posted (and with which token).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_NOTES = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes(?:/(\d+))?(?:\?.*)?$")


@dataclass
class GitLabStandIn:
    url: str  # what CI_API_V4_URL would be
    notes: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, token

    def bodies(self) -> list[str]:
        return [str(n["body"]) for n in self.notes]


def _handler(state: GitLabStandIn) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _call(self, method: str) -> re.Match[str] | None:
            with lock:
                state.calls.append((method, self.path, self.headers.get("PRIVATE-TOKEN", "")))
            match = _NOTES.match(self.path)
            if match is None:
                self._reply(404, {"message": "404 Not Found"})
            return match

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")  # type: ignore[no-any-return]

        def do_GET(self) -> None:
            if self._call("GET"):
                with lock:
                    self._reply(200, list(state.notes))

        def do_POST(self) -> None:
            if self._call("POST"):
                with lock:
                    state.notes.append({"id": len(state.notes) + 1, "body": self._body()["body"]})
                    self._reply(201, state.notes[-1])

        def do_PUT(self) -> None:
            if match := self._call("PUT"):
                with lock:
                    note = state.notes[int(match[3]) - 1]
                    note["body"] = self._body()["body"]
                    self._reply(200, note)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def gitlab_stand_in(notes: list[dict[str, Any]] | None = None) -> Iterator[GitLabStandIn]:
    """Serve the stand-in on 127.0.0.1 (a free port) for the duration of the block."""
    state = GitLabStandIn("", list(notes or []))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_port}/api/v4"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
