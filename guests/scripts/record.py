#!/usr/bin/env python3
"""Run every configuration of runs.txt on a VM (default: QEMU's
qemu-system-ppc64) and save each console transcript as <out>/<name>.txt,
plus <out>/SUMMARY.md with the guest status, the VM's exit status and the
wall time of each run.

  scripts/record.py                          # QEMU 7.2 -> expected/qemu-7.2
  scripts/record.py --vm target/release/pseries --out /tmp/ours
  scripts/record.py --only demo,xics
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUESTS = os.path.dirname(HERE)


def parse_runs(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            run = {"name": line[0], "image": line[1], "smp": "2",
                   "machine": "pseries", "append": "", "migrate": False,
                   "exit": 0}
            for word in line[2:]:
                if word == "migrate":
                    run["migrate"] = True
                    continue
                key, _, value = word.partition("=")
                if key == "append":
                    value = value.replace(",", " ")
                elif key == "exit":
                    value = int(value)
                elif key not in ("smp", "machine"):
                    raise SystemExit("runs.txt: unknown option %r" % word)
                run[key] = value
            runs.append(run)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vm", default="qemu-system-ppc64")
    ap.add_argument("--out", default=os.path.join(GUESTS, "expected", "qemu-7.2"))
    ap.add_argument("--only", help="comma-separated names")
    ap.add_argument("--timeout", default="300")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    rows = []
    for run in parse_runs(os.path.join(GUESTS, "runs.txt")):
        if only and run["name"] not in only:
            continue
        transcript = os.path.join(args.out, run["name"] + ".txt")
        cmd = [sys.executable, os.path.join(HERE, "run.py"), run["image"],
               "--vm", args.vm, "--machine", run["machine"], "--smp", run["smp"],
               "--timeout", args.timeout, "--quiet", "--transcript", transcript,
               "--stderr", os.path.join(args.out, run["name"] + ".stderr")]
        if run["append"]:
            cmd += ["--append", run["append"]]
        if run["migrate"]:
            cmd.append("--migrate")
        start = time.monotonic()
        status = subprocess.call(cmd)
        took = time.monotonic() - start
        with open(transcript, errors="replace") as f:
            m = re.search(r"^EXIT: STATUS=(\d+)", f.read(), re.M)
        guest = m.group(1) if m else "-"
        ok = status == run["exit"]
        rows.append((run["name"], guest, status, run["exit"], took))
        print("%-16s guest STATUS=%-3s vm exit %d%s  %.1f s"
              % (run["name"], guest, status, "" if ok else " (expected %d)" % run["exit"], took))
    with open(os.path.join(args.out, "SUMMARY.md"), "w") as f:
        f.write("| run | guest EXIT STATUS | VM exit | expected VM exit | wall time |\n")
        f.write("|---|---|---|---|---|\n")
        for name, guest, status, want, took in rows:
            f.write("| %s | %s | %d | %d | %.1f s |\n" % (name, guest, status, want, took))


if __name__ == "__main__":
    main()
