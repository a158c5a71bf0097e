"""CI glue: the merge-request note (GitLab API)."""
