"""Verify: post-deploy checks through NAPALM getters and, in the lab, traffic probes."""
