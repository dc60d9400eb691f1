#!/usr/bin/env python3
"""The CLI built for Windows, run under Wine against the simulator (a Linux binary).

    scripts/wine-cli-test.py target/x86_64-pc-windows-gnu/debug/uplink.exe target/debug/uplink-sim

It must connect, measure heartbeat round trips, receive the prices it subscribed to,
and after the simulator resets the connection (a TCP reset, no close frame), retry
and connect again; and it must never take the run for a sleep of the machine (the
Windows build reads QueryUnbiasedInterruptTime at every stats tick). Prints what it
saw; exits 1 with what it last saw when a step times out. Wine runs in the prefix
that WINEPREFIX names, which scripts/cross-check.sh prepares.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

WINE = "/usr/lib/wine/wine64"


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def lines_of(stream, into):
    """Puts each line of `stream` on the queue `into`, then None at its end."""
    for line in stream:
        into.put(line)
    into.put(None)


class Events:
    """The CLI's JSON lines, as they come."""

    def __init__(self, stream):
        self.queue = queue.Queue()
        self.seen = []
        threading.Thread(target=lines_of, args=(stream, self.queue), daemon=True).start()

    def wait(self, what, timeout, pred):
        """The first event from now on for which `pred` holds, within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                last = self.seen[-1] if self.seen else "nothing"
                fail(f"no {what} within {timeout} s; the CLI's last line: {str(last)[:300]}")
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                fail(f"the CLI ended before {what}")
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                fail(f"the CLI printed a line that is not JSON: {line[:300]!r}")
            self.seen.append(event)
            if pred(event):
                return event


def main():
    # A SIGTERM (a timeout around this script) unwinds through the `finally` below,
    # which stops the simulator and the CLI.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if len(sys.argv) != 3:
        fail("usage: wine-cli-test.py UPLINK_EXE UPLINK_SIM")
    exe, sim_bin = sys.argv[1], sys.argv[2]
    for path in (exe, sim_bin, WINE):
        if not os.path.exists(path):
            fail(f"{path} does not exist")

    if not os.environ.get("WINEPREFIX"):
        fail("WINEPREFIX is not set: run this from scripts/cross-check.sh")
    scratch = tempfile.mkdtemp(prefix="uplink-wine-")
    procs = []
    env = dict(os.environ, RUST_LOG="info")
    try:
        sim = subprocess.Popen(
            [sim_bin, "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--rate", "50"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        procs.append(sim)
        first = sim.stdout.readline()
        try:
            where = json.loads(first)
            where["url"], where["control"]
        except (json.JSONDecodeError, KeyError, TypeError):
            fail(f"the simulator did not say where it listens (it printed {first[:300]!r})")

        err_path = os.path.join(scratch, "cli.err")
        with open(err_path, "w") as err:
            cli = subprocess.Popen(
                [WINE, exe, "watch", where["url"], "--subscribe", "AAPL",
                 "--heartbeat-interval", "1", "--reconnect-base-delay", "0.2",
                 "--stats-interval", "1"],
                stdout=subprocess.PIPE, stderr=err, env=env, text=True,
            )
        procs.append(cli)
        events = Events(cli.stdout)

        t0 = time.monotonic()
        events.wait("connected state", 120,
                    lambda e: e.get("event") == "state" and e.get("state") == "connected")
        print(f"connected, {time.monotonic() - t0:.1f} s after the start under Wine")
        rtt = events.wait("heartbeat round trip", 10,
                          lambda e: e.get("event") == "latency" and e.get("ms", -1) >= 0)
        print(f"heartbeat round trip measured: {rtt['ms']} ms")
        price = events.wait(
            "AAPL price", 10,
            lambda e: e.get("event") == "message"
            and isinstance(e.get("message"), dict)
            and e["message"].get("type") == "update"
            and isinstance(e["message"].get("data"), dict)
            and e["message"]["data"].get("symbol") == "AAPL",
        )
        print(f"price received: AAPL {price['message']['data'].get('price')}")

        request = urllib.request.Request(where["control"] + "/drop?mode=reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as r:
            dropped = json.load(r)["dropped"]
        if dropped != 1:
            fail(f"the simulator reset {dropped} connections, not 1")
        retry = events.wait("retry after the reset", 10, lambda e: e.get("event") == "retrying")
        print(f"after the reset: retrying in {retry['in_secs']:.2f} s ({retry['reason']})")
        events.wait("connected state again", 15,
                    lambda e: e.get("event") == "state" and e.get("state") == "connected")
        events.wait("heartbeat round trip on the new connection", 10,
                    lambda e: e.get("event") == "latency")
        print("connected again, heartbeats answered")
        # Each stats tick is a reading of the clocks for sleep: let five go by.
        ticks = sum(1 for e in events.seen if e.get("event") == "stats")
        while ticks < 5:
            events.wait("stats tick", 10, lambda e: e.get("event") == "stats")
            ticks += 1

        cli.kill()
        try:
            cli.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("the CLI under Wine did not end within 30 s of SIGKILL")
        with open(err_path) as f:
            log = f.read()
        if "system resumed" in log:
            fail("the Windows build took the run for a sleep of the machine:\n" + log[-2000:])
        print(f"no sleep seen in {ticks} stats ticks over {time.monotonic() - t0:.1f} s"
              " (QueryUnbiasedInterruptTime)")
        print("the Windows CLI under Wine: ok")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
