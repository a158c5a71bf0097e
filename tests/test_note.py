"""The merge-request note against a local stand-in for the GitLab API (127.0.0.1 only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from pipeline.ci.note import MARKER, NoteError, post


class FakeGitLab(BaseHTTPRequestHandler):
    notes: ClassVar[list[dict[str, Any]]] = []
    calls: ClassVar[list[tuple[str, str, str]]] = []

    def _reply(self, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))  # type: ignore[no-any-return]

    def do_GET(self) -> None:
        self.calls.append(("GET", self.path, self.headers["PRIVATE-TOKEN"]))
        self._reply(self.notes)

    def do_POST(self) -> None:
        body = self._body()
        self.calls.append(("POST", self.path, self.headers["PRIVATE-TOKEN"]))
        self.notes.append({"id": len(self.notes) + 1, "body": body["body"]})
        self._reply(self.notes[-1])

    def do_PUT(self) -> None:
        body = self._body()
        self.calls.append(("PUT", self.path, self.headers["PRIVATE-TOKEN"]))
        note_id = int(self.path.rsplit("/", 1)[1])
        self.notes[note_id - 1]["body"] = body["body"]
        self._reply(self.notes[note_id - 1])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gitlab() -> Iterator[dict[str, str]]:
    FakeGitLab.notes, FakeGitLab.calls = [{"id": 1, "body": "LGTM"}], []
    server = HTTPServer(("127.0.0.1", 0), FakeGitLab)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4",
           "CI_PROJECT_ID": "netops/network", "CI_MERGE_REQUEST_IID": "42",
           "NETPIPE_GITLAB_TOKEN": "glpat-test"}
    server.shutdown()


def test_creates_then_updates_one_note(gitlab: dict[str, str]) -> None:
    assert post("### netpipe diff\nfirst", gitlab) == "created"
    assert post("### netpipe diff\nsecond", gitlab) == "updated"
    bodies = [n["body"] for n in FakeGitLab.notes]
    assert bodies == ["LGTM", f"{MARKER}\n### netpipe diff\nsecond"]
    methods = [c[0] for c in FakeGitLab.calls]
    assert methods == ["GET", "POST", "GET", "PUT"]
    assert FakeGitLab.calls[1][1] == "/api/v4/projects/netops%2Fnetwork/merge_requests/42/notes"
    assert all(c[2] == "glpat-test" for c in FakeGitLab.calls)


def test_outside_a_merge_request_pipeline() -> None:
    with pytest.raises(NoteError, match="CI_MERGE_REQUEST_IID"):
        post("x", {"CI_API_V4_URL": "http://127.0.0.1:9", "CI_PROJECT_ID": "1",
                   "NETPIPE_GITLAB_TOKEN": "t"})
