"""The PNG of `make bench`: time and peak memory against device count.

    .venv-bench/bin/python benchmarks/plot.py RESULTS.json OUT.png

Runs in the bench-only virtualenv (matplotlib is no runtime dependency of netpipe).
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(data_path: str, out: str) -> None:
    with open(data_path) as f:
        results = json.load(f)
    rows = sorted(results["sizes"].values(), key=lambda r: r["devices"])
    n = [r["devices"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = [("netpipe validate (CLI, all checks)", "validate_cli", "o-"),
              ("netpipe offline (load to Python lint)", "offline", "s-"),
              ("vtysh + nft checks", "external", "^-"),
              ("raw floor (libyaml + plain Jinja, 2 processes)", "floor", "d--"),
              ("one VLAN changed (CLI, incremental)", "incremental", "x-")]
    for label, key, style in series:
        left.plot(n, [r[key]["median"] for r in rows], style, label=label)
    if "ansible" in results:
        per = results["ansible"]["median"] / results["ansible"]["devices"]
        left.plot(n, [per * x for x in n], "k:", label=f"Ansible template, {per * 1000:.0f} ms "
                  f"per device ({results['ansible']['devices']} measured, extrapolated)")
    left.set_xlabel("devices")
    left.set_ylabel("seconds (median)")
    left.set_yscale("log")
    left.set_title("time")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    right.plot(n, [r["rss_cli_mb"] for r in rows], "o-", label="netpipe validate, peak RSS")
    right.axhline(1024, color="grey", linestyle=":", label="target 1 GB")
    right.set_xlabel("devices")
    right.set_ylabel("MB")
    right.set_title("memory")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
