"""The merge-request note against a local stand-in for the GitLab API (127.0.0.1 only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.ci.note import MARKER, NoteError, post
from tests.ci.gitlab_api import GitLabStandIn, gitlab_stand_in


@pytest.fixture
def gitlab() -> Iterator[GitLabStandIn]:
    with gitlab_stand_in([{"id": 1, "body": "LGTM"}]) as api:
        yield api


def env(api: GitLabStandIn) -> dict[str, str]:
    return {"CI_API_V4_URL": api.url, "CI_PROJECT_ID": "netops/network",
            "CI_MERGE_REQUEST_IID": "42", "NETPIPE_GITLAB_TOKEN": "glpat-test"}


def test_creates_then_updates_one_note(gitlab: GitLabStandIn) -> None:
    assert post("### netpipe diff\nfirst", env(gitlab)) == "created"
    assert post("### netpipe diff\nsecond", env(gitlab)) == "updated"
    assert gitlab.bodies() == ["LGTM", f"{MARKER}\n### netpipe diff\nsecond"]
    methods = [c[0] for c in gitlab.calls]
    assert methods == ["GET", "POST", "GET", "PUT"]
    assert gitlab.calls[1][1] == "/api/v4/projects/netops%2Fnetwork/merge_requests/42/notes"
    assert all(c[2] == "glpat-test" for c in gitlab.calls)


def test_outside_a_merge_request_pipeline() -> None:
    with pytest.raises(NoteError, match="CI_MERGE_REQUEST_IID"):
        post("x", {"CI_API_V4_URL": "http://127.0.0.1:9", "CI_PROJECT_ID": "1",
                   "NETPIPE_GITLAB_TOKEN": "t"})
