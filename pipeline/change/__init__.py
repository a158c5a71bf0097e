"""Change: diff, deploy with commit-confirm, rollback and drift, through Nornir and NAPALM."""
