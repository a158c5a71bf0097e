"""Post (or update) netpipe's note on a GitLab merge request.

One note per merge request, found again by a hidden marker and edited in place, so a
pipeline re-run replaces its preview instead of stacking comments. Uses the GitLab
REST API with a project access token from a masked CI variable; the standard library
is enough for two calls.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

MARKER = "<!-- netpipe:diff -->"
TOKEN_VAR = "NETPIPE_GITLAB_TOKEN"


class NoteError(Exception):
    pass


def _request(url: str, token: str, method: str = "GET",
             body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "PRIVATE-TOKEN": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def post(text: str, env: Mapping[str, str]) -> str:
    """Create or update the note; returns "created" or "updated". Needs GitLab CI's
    ``CI_API_V4_URL``, ``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID`` and the token."""
    missing = [v for v in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", TOKEN_VAR)
               if not env.get(v)]
    if missing:
        raise NoteError("not in a merge-request pipeline, or unset: " + ", ".join(missing))
    project = urllib.parse.quote(env["CI_PROJECT_ID"], safe="")
    base = f"{env['CI_API_V4_URL']}/projects/{project}/merge_requests/" \
           f"{env['CI_MERGE_REQUEST_IID']}/notes"
    token = env[TOKEN_VAR]
    body = f"{MARKER}\n{text}"
    notes = _request(f"{base}?per_page=100&sort=asc", token)
    mine = next((n for n in notes if MARKER in str(n.get("body", ""))), None)
    if mine is None:
        _request(base, token, "POST", {"body": body})
        return "created"
    _request(f"{base}/{mine['id']}", token, "PUT", {"body": body})
    return "updated"
