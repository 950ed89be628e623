#!/usr/bin/env python3
"""Run one guest on a pseries VM (QEMU's qemu-system-ppc64 by default, or any
binary with the same options, such as our `pseries`) and act on the guest's
`WAIT:` lines:

  WAIT: key        write one character (--key) to the VM's console
  WAIT: powerdown  QMP system_powerdown (raises the EPOW event)
  WAIT: migrate    with --migrate: start a destination VM with
                   -incoming unix:..., QMP migrate, wait for completion,
                   quit the source, then continue on the destination and
                   send the key there; without --migrate: just send the key

The guest's console output is echoed and, with --transcript, saved; the
destination's output follows the source's in the same transcript.  Exit
status: the VM's (0 when the guest powered off), 124 on timeout.
"""

import argparse
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUESTS = os.path.dirname(HERE)


class Qmp:
    """A minimal QMP client on a unix socket."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "return" in reply or "error" in reply:
                return reply

    def close(self):
        self.sock.close()


def vm_command(args, image, qmp_path, incoming=None):
    cmd = [args.vm, "-M", args.machine, "-accel", "tcg", "-smp", str(args.smp),
           "-m", args.memory, "-nodefaults", "-display", "none",
           "-serial", "stdio", "-bios", args.bios, "-kernel", image,
           "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
    if args.append:
        cmd += ["-append", args.append]
    if incoming:
        cmd += ["-incoming", "unix:" + incoming]
    return cmd


class Vm:
    def __init__(self, cmd, stderr):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.pending = b""

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("guest", help="image name in images/ (demo, xics, ...) or a path")
    ap.add_argument("--vm", default="qemu-system-ppc64")
    ap.add_argument("--machine", default="pseries")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--memory", default="512M")
    ap.add_argument("--append", default="")
    ap.add_argument("--bios", default=os.path.join(GUESTS, "images", "firmware.bin"))
    ap.add_argument("--key", default="k")
    ap.add_argument("--migrate", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--transcript")
    ap.add_argument("--stderr", help="file for the VMs' stderr (default: ours)")
    ap.add_argument("--quiet", action="store_true", help="do not echo the console")
    args = ap.parse_args()

    image = args.guest
    if not os.path.exists(image):
        image = os.path.join(GUESTS, "images", args.guest + ".elf")
    tmp = tempfile.mkdtemp(prefix="pseries-guest-")
    stderr = open(args.stderr, "wb") if args.stderr else None
    start = time.monotonic()
    deadline = start + args.timeout
    transcript = bytearray()
    vm = Vm(vm_command(args, image, os.path.join(tmp, "qmp-src")), stderr)
    qmp_path = os.path.join(tmp, "qmp-src")
    status = None
    try:
        while True:
            if time.monotonic() > deadline:
                sys.stderr.write("run.py: timeout after %.0f s\n" % args.timeout)
                status = 124
                break
            sel = selectors.DefaultSelector()
            sel.register(vm.proc.stdout, selectors.EVENT_READ)
            sel.select(timeout=0.2)
            sel.close()
            try:
                data = vm.proc.stdout.read()
            except BlockingIOError:
                data = None
            if data:
                transcript += data
                if not args.quiet:
                    sys.stdout.buffer.write(data)
                    sys.stdout.flush()
                vm.pending += data
                while b"\n" in vm.pending:
                    line, vm.pending = vm.pending.split(b"\n", 1)
                    line = line.decode(errors="replace").strip()
                    if line.startswith("WAIT: key"):
                        vm.send(args.key.encode())
                    elif line.startswith("WAIT: powerdown"):
                        qmp = Qmp(qmp_path, deadline)
                        qmp.cmd("system_powerdown")
                        qmp.close()
                    elif line.startswith("WAIT: migrate"):
                        if args.migrate:
                            vm, qmp_path = migrate(args, image, tmp, vm, qmp_path,
                                                   stderr, deadline)
                        vm.send(args.key.encode())
            elif vm.proc.poll() is not None:
                # Whatever the VM wrote before exiting is still in the pipe.
                os.set_blocking(vm.proc.stdout.fileno(), True)
                rest = vm.proc.stdout.read()
                transcript += rest
                if not args.quiet:
                    sys.stdout.buffer.write(rest)
                    sys.stdout.flush()
                status = vm.proc.returncode
                break
    finally:
        if vm.proc.poll() is None:
            vm.proc.kill()
            vm.proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.transcript:
        with open(args.transcript, "wb") as f:
            f.write(bytes(transcript))
    sys.stderr.write("run.py: %s exited %d after %.1f s\n"
                     % (os.path.basename(image), status, time.monotonic() - start))
    return status


def migrate(args, image, tmp, src, src_qmp_path, stderr, deadline):
    """Move the running guest to a fresh VM; returns the destination."""
    n = len([f for f in os.listdir(tmp) if f.startswith("mig")])
    sock = os.path.join(tmp, "mig%d" % n)
    dst_qmp_path = os.path.join(tmp, "qmp-dst%d" % n)
    dst = Vm(vm_command(args, image, dst_qmp_path, incoming=sock), stderr)
    while not os.path.exists(sock):
        if time.monotonic() > deadline or dst.proc.poll() is not None:
            raise RuntimeError("destination VM did not listen on %s" % sock)
        time.sleep(0.05)
    qmp = Qmp(src_qmp_path, deadline)
    reply = qmp.cmd("migrate", uri="unix:" + sock)
    if "error" in reply:
        raise RuntimeError("migrate: %s" % reply["error"])
    while True:
        state = qmp.cmd("query-migrate")["return"].get("status")
        if state in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("migration did not complete")
        time.sleep(0.05)
    sys.stderr.write("run.py: migration %s\n" % state)
    if state != "completed":
        raise RuntimeError("migration " + state)
    try:
        qmp.cmd("quit")
    except EOFError:
        pass
    qmp.close()
    src.proc.wait()
    return dst, dst_qmp_path


if __name__ == "__main__":
    sys.exit(main())
