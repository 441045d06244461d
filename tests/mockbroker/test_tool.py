#!/usr/bin/python3
"""kafkit-mock as a process, end to end.

  test_tool.py KAFKIT_MOCK KCAT

1. Starts `kafkit-mock --brokers 3 --topic t1:4 --control SOCK --dump F`,
   reads the bootstrap list from its first stdout line.
2. Through the control socket: a bad command gets "error: line 1: col ...";
   `close api=produce p=1 id=block` is refused a second time and then
   cancelled (`cancel block`), so no Produce is ever closed;
   `errors api=produce partition=t1:0 NOT_LEADER_OR_FOLLOWER x3` gets
   "ok". kcat then produces to t1:0 and must still deliver everything,
   and to topic auto1, which its Metadata request auto-creates.
3. The same for kafka-python on t1:1 (`errors ... partition=t1:1 ...`).
4. SIGTERM: exits 0, and the NDJSON dump holds exactly the produced
   records (offsets 0..n-1, keys and values base64), auto1's included,
   and nothing else. The request log shows the 6 injected errors and no
   closed connection.
5. --stdin control, --scenario with an error, and --fault at start.
Every step is bounded in time.
"""
import base64
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

from kafka import KafkaProducer

TOOL, KCAT = sys.argv[1:3]
N = 200


def fail(msg):
    sys.exit("test_tool: " + msg)


def start(args, tmp, stdin=subprocess.DEVNULL):
    err = open(os.path.join(tmp, "stderr.txt"), "w")
    p = subprocess.Popen([TOOL] + args, stdin=stdin, stdout=subprocess.PIPE,
                         stderr=err)
    r, _, _ = select.select([p.stdout], [], [], 10)
    if not r:
        p.kill()
        fail("no bootstrap line within 10 s")
    line = p.stdout.readline().decode().strip()
    if not line.startswith("127.0.0.1:"):
        p.kill()
        fail("bad bootstrap line %r" % line)
    return p, line


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("no exit within 20 s of SIGTERM")
    if rc != 0:
        fail("exit status %d after SIGTERM" % rc)


def control(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(line.encode() + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return got.decode().rstrip("\n")


def expect(got, want):
    if got != want:
        fail("control: got %r, want %r" % (got, want))


def kcat_produce(bs, n, topic="t1"):
    lines = "".join("kc%d:kcat value %d\n" % (i, i) for i in range(n))
    p = subprocess.run([KCAT, "-P", "-b", bs, "-t", topic, "-p", "0", "-K:",
                        "-X", "linger.ms=5", "-X", "retry.backoff.ms=10"],
                       input=lines.encode(), timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        fail("kcat -P exited %d: %s" % (p.returncode, p.stderr.decode()))
    return [(b"kc%d" % i, b"kcat value %d" % i) for i in range(n)]


def kpy_produce(bs, n):
    prod = KafkaProducer(bootstrap_servers=bs, acks=1, linger_ms=5,
                         retries=10, retry_backoff_ms=10,
                         max_in_flight_requests_per_connection=1)
    recs = [(b"kp%d" % i, bytes(range(i % 256)) + b"\xff") for i in range(n)]
    futures = [prod.send("t1", key=k, value=v, partition=1) for k, v in recs]
    prod.flush(30)
    for f in futures:
        f.get(timeout=30)
    prod.close(10)
    return recs


def check_dump(path, want):
    got = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            got.setdefault((r["topic"], r["partition"]), []).append(r)
    if set(got) != set(want):
        fail("dump partitions %s, want %s" % (sorted(got), sorted(want)))
    for tp, recs in want.items():
        rows = got[tp]
        if len(rows) != len(recs):
            fail("%s: %d records in the dump, want %d" %
                 (tp, len(rows), len(recs)))
        for i, (row, (k, v)) in enumerate(zip(rows, recs)):
            if row["offset"] != i:
                fail("%s: offset %d at row %d" % (tp, row["offset"], i))
            if (base64.b64decode(row["key"]) != k or
                    base64.b64decode(row["value"]) != v):
                fail("%s: record %d differs: %r" % (tp, i, row))
            if row["headers"] != [] or row["timestamp"] <= 0:
                fail("%s: record %d: %r" % (tp, i, row))


def main_flow(tmp):
    sock = os.path.join(tmp, "ctl.sock")
    dump = os.path.join(tmp, "dump.ndjson")
    p, bs = start(["--brokers", "3", "--topic", "t1:4", "--control", sock,
                   "--dump", dump, "--log-requests"], tmp)
    try:
        if len(bs.split(",")) != 3:
            fail("want 3 brokers in %r" % bs)
        expect(control(sock, "errors api=prodce x3"),
               "error: line 1: col 12: unknown api 'prodce'")
        # a named rule that would close every Produce, cancelled before
        # any: kcat delivers, and the request log shows no close
        expect(control(sock, "close api=produce p=1 id=block"), "ok")
        expect(control(sock, "close api=produce p=1 id=block"),
               "error: line 1: a rule named 'block' exists")
        expect(control(sock, "cancel block"), "ok")
        expect(control(sock, "cancel block"),
               "error: line 1: no rule named 'block' (or it has ended)")
        expect(control(sock, "errors api=produce partition=t1:0 "
                             "NOT_LEADER_OR_FOLLOWER x3"), "ok")
        kc = kcat_produce(bs, N)
        # a topic auto-created by the client's Metadata request
        ka = kcat_produce(bs, 5, topic="auto1")
        expect(control(sock, "errors api=produce partition=t1:1 6 x3"), "ok")
        kp = kpy_produce(bs, N)
    finally:
        stop(p)
    check_dump(dump, {("t1", 0): kc, ("t1", 1): kp, ("auto1", 0): ka})
    with open(os.path.join(tmp, "stderr.txt")) as f:
        log = f.readlines()
    hits = sum("error=NOT_LEADER_OR_FOLLOWER" in l and "faults=e" in l
               for l in log)
    if hits != 6:
        fail("request log shows %d injected errors, want 6" % hits)
    if any("faults=c" in l for l in log):
        fail("a cancelled close rule closed a connection")
    if os.path.exists(sock):
        fail("control socket left behind")


def stdin_and_scenario(tmp):
    p = subprocess.Popen([TOOL, "--stdin", "--fault", "topic t9:2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        bs = p.stdout.readline().decode().strip()
        if len(bs.split(",")) != 1:
            fail("want 1 broker in %r" % bs)
        answers = []
        for cmd in [b"topic t9:1", b"bogus", b"stall broker=1", b"# quiet"]:
            p.stdin.write(cmd + b"\n")
            p.stdin.flush()
            r, _, _ = select.select([p.stdout], [], [], 10)
            if not r:
                fail("no answer to %r" % cmd)
            answers.append(p.stdout.readline().decode().rstrip("\n"))
        want = ["error: line 1: the topic already exists",
                "error: line 1: col 1: unknown command 'bogus'", "ok", "ok"]
        if answers != want:
            fail("stdin answers %r, want %r" % (answers, want))
    finally:
        stop(p)

    sc = os.path.join(tmp, "bad.scenario")
    with open(sc, "w") as f:
        f.write("# comment\ntopic a:1\ndelay broker=1 10parsecs\n")
    r = subprocess.run([TOOL, "--scenario", sc], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if r.returncode != 1 or r.stdout:
        fail("bad scenario: exit %d, stdout %r" % (r.returncode, r.stdout))
    want = ("kafkit-mock: %s: line 3: col 16: bad duration '10parsecs' "
            "(want e.g. 250ms or 2s, at most 1 day)\n" % sc)
    if r.stderr.decode() != want:
        fail("bad scenario message %r" % r.stderr.decode())
    r = subprocess.run([TOOL, "--brokers", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if r.returncode != 2:
        fail("--brokers 0: exit %d, want 2" % r.returncode)


def main():
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        main_flow(tmp)
        stdin_and_scenario(tmp)
    print("test_tool: ok in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
