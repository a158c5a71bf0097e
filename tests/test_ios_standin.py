"""The IOS SSH stand-in itself (tests/ios_standin.py): a client that hangs up in the
middle of an SCP upload ends that session quietly, as a switch would, instead of raising
in the stand-in's thread (which pytest reports as a traceback in every run's output)."""

from __future__ import annotations

import threading
import time

import paramiko
import pytest

from tests.ios_standin import Device, standin


def test_scp_client_hanging_up_mid_upload_ends_the_session_quietly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    device = Device("sw-standin", "hostname sw-standin\n")
    with standin(device) as server:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # the stand-in's own key
        client.connect("127.0.0.1", port=server.port, username=device.username,
                       password=device.password, look_for_keys=False, allow_agent=False)
        channel = client.get_transport().open_session()  # type: ignore[union-attr]
        channel.exec_command("scp -t flash:candidate.cfg")
        assert channel.recv(1) == b"\x00"
        channel.sendall(b"C0644 100 candidate.cfg\n")
        assert channel.recv(1) == b"\x00"
        client.close()  # gone before a byte of the file
        deadline = time.monotonic() + 10  # until the stand-in's SCP thread has ended
        while time.monotonic() < deadline and any(
                "_exec" in thread.name for thread in threading.enumerate()):
            time.sleep(0.05)
    assert errors == []
    assert "candidate.cfg" not in device.flash
