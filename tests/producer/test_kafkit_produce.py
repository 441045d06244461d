#!/usr/bin/python3
"""kafkit-produce as a process, end to end.

  test_kafkit_produce.py KAFKIT_PRODUCE KAFKIT_MOCK KAFKIT_PCAP

- Embedded mock cluster, generated records, idempotence on (the default
  and explicit): every record delivered, the audit finds 0 lost, 0
  duplicated, 0 out of order, exit 0; the same under --chaos (leaders
  really moved, faults really injected); records from stdin with -K and
  -H; --stats-json prints a JSON document.
- Idempotence off with two swallowed Produce responses (--fault): the
  audit sees the duplicates the retries create and the exit status is 3.
- A progress bar when stderr is a terminal, erased before the summary.
- kafkit-mock as a separate process with -b: stdin records with keys; the
  mock's NDJSON dump holds exactly those records, once each, in input
  order per partition; generated records with lz4 and --stats-json.
- Unreachable brokers: the records fail and the exit status is 1.
- Bad arguments: one clear line on stderr naming the option, exit 2.
- --pcap: the embedded cluster's and kafkit-mock's own traffic, recorded
  to a file that kafkit-pcap decodes to exactly the records produced and
  tshark reads as Kafka; with -b --pcap is refused (exit 2).
- kafkit-pcap -i lo capturing live while kafkit-produce sends to
  kafkit-mock: the Produce request and its response, paired.
Every run is bounded in time.
"""
import base64
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import unittest

PRODUCE, MOCK, PCAP = sys.argv[1:4]
del sys.argv[1:4]
TSHARK = "/usr/bin/tshark"


def run(args, stdin=None, timeout=240):
    p = subprocess.run([PRODUCE] + args, input=stdin, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def field(out, name):
    """The value of summary line "name: value"."""
    m = re.search(r"^%s:\s+(.*)$" % re.escape(name), out, re.M)
    if not m:
        raise AssertionError("no %r line in:\n%s" % (name, out))
    return m.group(1)


def audit(out):
    """(lost, duplicated, out of order, altered, foreign) from verify."""
    m = re.search(r"(\d+) lost, (\d+) duplicated, (\d+) out of order, "
                  r"(\d+) altered, (\d+) foreign", field(out, "verify"))
    if not m:
        raise AssertionError("bad verify line in:\n" + out)
    return tuple(int(x) for x in m.groups())


class Embedded(unittest.TestCase):
    def assert_clean(self, rc, out, err, n):
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(field(out, "records sent"), str(n))
        self.assertEqual(field(out, "delivered"), str(n))
        self.assertEqual(field(out, "failed"), "0")
        self.assertTrue(field(out, "verify").startswith("ok: %d records" % n),
                        out)
        self.assertEqual(audit(out), (0, 0, 0, 0, 0), out)
        self.assertNotIn("unreported", out)
        self.assertNotIn("extra reports", out)

    def test_generated(self):
        rc, out, err = run(["-n", "20000", "-s", "100", "--partitions", "4",
                            "-q"])
        self.assert_clean(rc, out, err, 20000)
        self.assertIn("4 partitions", field(out, "verify"))
        self.assertRegex(field(out, "throughput"),
                         r"^\d+ records/s, \d+\.\d\d MB/s$")
        self.assertRegex(field(out, "latency ms"),
                         r"^p50 [\d.]+  p90 [\d.]+  p99 [\d.]+  max [\d.]+$")
        self.assertEqual(field(out, "leader changes"), "0 survived")

    def test_generated_keys_compressed(self):
        rc, out, err = run(["-n", "5000", "-s", "1000", "--keys", "7",
                            "-X", "compression.type=zstd",
                            "-X", "enable.idempotence=true", "-q"])
        self.assert_clean(rc, out, err, 5000)

    def test_chaos(self):
        # About 2.5 s of sending: several scheduled leader moves.
        rc, out, err = run(["-n", "25000", "--throughput", "10000",
                            "--chaos", "--seed", "7",
                            "-X", "enable.idempotence=true", "-q"])
        self.assert_clean(rc, out, err, 25000)
        moved = int(field(out, "leader changes").split()[0])
        self.assertGreater(moved, 0, out)
        m = re.match(r"(\d+) delayed, (\d+) swallowed",
                     field(out, "mock faults"))
        self.assertTrue(m, out)
        self.assertGreater(int(m.group(1)), 0, out)

    def test_chaos_swallowed(self):
        # Certain swallowed Produce responses: the retries must be
        # recognised by the broker as duplicates, not appended twice.
        rc, out, err = run(["-n", "6000", "--throughput", "6000", "--chaos",
                            "--fault", "swallow api=produce next=3",
                            "-q"])
        self.assert_clean(rc, out, err, 6000)
        m = re.match(r"\d+ delayed, (\d+) swallowed; (\d+) duplicate",
                     field(out, "mock faults"))
        self.assertTrue(m, out)
        self.assertGreaterEqual(int(m.group(1)), 3, out)
        self.assertGreater(int(field(out, "retries")), 0, out)

    def test_duplicates_without_idempotence(self):
        rc, out, err = run(["-n", "3000", "-X", "enable.idempotence=false",
                            "-X", "acks=all", "-X", "request.timeout.ms=800",
                            "--fault", "swallow api=produce next=2", "-q"])
        lost, dup, _, _, _ = audit(out)
        self.assertEqual(lost, 0, out)
        self.assertGreater(dup, 0, out)
        self.assertEqual(rc, 3, out + err)
        self.assertTrue(field(out, "verify").startswith("FAILED"), out)
        self.assertIn("stored again", out)

    def test_stdin_keys_headers(self):
        lines = ["k%d:value %d: with a colon" % (i % 13, i)
                 for i in range(3000)]
        lines += ["no key here", "", ":empty key"]
        data = ("\n".join(lines) + "\n").encode()
        rc, out, err = run(["-K", ":", "-H", "h1=v1", "-H", "empty=",
                            "-t", "lines", "--partitions", "5", "-q"],
                           stdin=data)
        self.assert_clean(rc, out, err, len(lines))
        self.assertTrue(field(out, "topic").startswith("lines "), out)

    def test_acks_0(self):
        # No offsets in the reports: generated records are matched by
        # their sequence, stdin lines (some equal) by their bytes.
        rc, out, err = run(["-n", "4000", "-X", "acks=0", "-q"])
        self.assert_clean(rc, out, err, 4000)
        lines = ["line %d" % (i % 50) for i in range(2000)]
        rc, out, err = run(["-X", "acks=0", "-q"],
                           stdin=("\n".join(lines) + "\n").encode())
        self.assert_clean(rc, out, err, 2000)

    def test_stats_json(self):
        rc, out, err = run(["-n", "500", "--stats-json", "-q"])
        self.assertEqual(rc, 0, out + err)
        doc = [l for l in out.splitlines() if l.startswith("{")]
        self.assertEqual(len(doc), 1, out)
        stats = json.loads(doc[0])
        self.assertIn("partitions", stats)
        self.assertEqual(sum(p["records"] for p in stats["partitions"]), 500)
        self.assertRegex(field(out, "retries"), r"^\d+$")

    def test_progress_bar_on_a_terminal(self):
        master, slave = os.openpty()
        p = subprocess.Popen([PRODUCE, "-n", "3000", "--throughput", "5000"],
                             stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        tty = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            tty += chunk
        os.close(master)
        out = p.stdout.read().decode()
        p.stdout.close()
        self.assertEqual(p.wait(60), 0, out)
        tty = tty.decode()
        self.assertRegex(tty, r"\r\[#*\.*\] +\d+%  \d+ ok  0 failed  \d+ rec/s")
        self.assertTrue(tty.endswith("\r\033[K"), repr(tty[-40:]))
        self.assertNotIn("\r", out)
        self.assertEqual(audit(out), (0, 0, 0, 0, 0))

    def test_help(self):
        rc, out, err = run(["--help"])
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("usage: kafkit-produce"), out)
        for opt in ("--num-records", "--chaos", "-X KEY=VALUE",
                    "--stats-json", "Exit status"):
            self.assertIn(opt, out)


class BadArguments(unittest.TestCase):
    CASES = [
        (["--bogus"], "unknown option '--bogus'"),
        (["-n", "abc"], "-n 'abc'"),
        (["-n", "0"], "-n '0'"),
        (["-n", "10", "-s", "8"], "-s '8'"),
        (["-s", "100"], "--record-size applies to generated records"),
        (["-n", "5", "-K", ":"], "-K applies to records read from stdin"),
        (["-b", "127.0.0.1:9", "--chaos"], "--chaos needs the embedded"),
        (["-b", "127.0.0.1:9", "--partitions", "2"], "apply to the embedded"),
        (["-n", "5", "-X", "acks"], "-X 'acks': want KEY=VALUE"),
        (["-n", "5", "-X", "no.such.key=1"], "no.such.key"),
        (["-n", "5", "-X", "acks=7"], "acks"),
        (["-n", "5", "-X", "enable.idempotence=true", "-X", "acks=1"],
         "kafkit-produce: producer: enable.idempotence"),
        (["-n", "5", "-H", "novalue"], "-H 'novalue'"),
        (["-n", "5", "--throughput", "-3"], "--throughput '-3'"),
        (["-n", "5", "-p", "3"], "-p 3: the embedded topic has 3"),
        (["-n", "5", "--fault", "swallow bogus=1"], "--fault 'swallow"),
        (["-n", "5", "stray"], "unexpected argument 'stray'"),
        (["-t"], "-t needs a value"),
        (["-b", "127.0.0.1:9", "--pcap", "x.pcap"],
         "--pcap records the embedded mock cluster's traffic; to capture "
         "traffic to external brokers (-b) use tcpdump"),
        (["-n", "5", "--pcap", ""], "--pcap: empty file name"),
    ]

    def test_cases(self):
        for args, want in self.CASES:
            with self.subTest(args=args):
                rc, out, err = run(args, stdin=b"", timeout=30)
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, "")
                self.assertTrue(err.startswith("kafkit-produce: "), err)
                self.assertIn(want, err)


class Standalone(unittest.TestCase):
    """kafkit-mock as its own process, reached with -b."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dump = os.path.join(self.tmp.name, "dump.ndjson")
        self.mock = subprocess.Popen(
            [MOCK, "--brokers", "3", "--topic", "t1:4", "--dump", self.dump],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        r, _, _ = select.select([self.mock.stdout], [], [], 10)
        if not r:
            self.mock.kill()
            self.fail("kafkit-mock printed no bootstrap list")
        self.bootstrap = self.mock.stdout.readline().decode().strip()
        self.assertTrue(self.bootstrap.startswith("127.0.0.1:"))

    def tearDown(self):
        if self.mock.poll() is None:
            self.mock.kill()
            self.mock.wait()
        self.mock.stdout.close()
        self.tmp.cleanup()

    def stop_mock(self):
        self.mock.send_signal(signal.SIGTERM)
        self.assertEqual(self.mock.wait(30), 0)
        with open(self.dump) as f:
            return [json.loads(l) for l in f if l.strip()]

    def test_stdin_records(self):
        n = 2000
        lines = ["key%d|v%d-%s" % (i % 17, i, "x" * (i % 40)) for i in range(n)]
        rc, out, err = run(["-b", self.bootstrap, "-t", "t1", "-K", "|",
                            "-q"], stdin=("\n".join(lines) + "\n").encode())
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(field(out, "delivered"), str(n))
        self.assertEqual(field(out, "verify"), "skipped")
        self.assertNotIn("leader changes", out)
        recs = self.stop_mock()
        self.assertEqual(len(recs), n)
        index = {l: i for i, l in enumerate(lines)}
        last = {}
        seen = set()
        for r in recs:
            key = base64.b64decode(r["key"]).decode()
            value = base64.b64decode(r["value"]).decode()
            i = index[key + "|" + value]
            self.assertNotIn(i, seen)
            seen.add(i)
            # idempotent by default: sequences present, order kept
            self.assertGreaterEqual(r["producer_id"], 0)
            self.assertGreater(i, last.get(r["partition"], -1))
            last[r["partition"]] = i
        self.assertEqual(len(seen), n)

    def test_generated_stats(self):
        rc, out, err = run(["-b", self.bootstrap, "-t", "t1", "-n", "3000",
                            "-s", "200", "-X", "compression.type=lz4",
                            "--stats-json", "-q"])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(field(out, "delivered"), "3000")
        stats = json.loads([l for l in out.splitlines()
                            if l.startswith("{")][0])
        self.assertEqual(len(stats["brokers"]) > 0, True)
        recs = self.stop_mock()
        self.assertEqual(len(recs), 3000)
        seqs = sorted(int(base64.b64decode(r["value"])[:15]) for r in recs)
        self.assertEqual(seqs, list(range(3000)))

    def test_unreachable_brokers(self):
        # Nothing listens on the discard port: kp_send() gives up on the
        # topic's metadata after max.block.ms, the tool stops sending
        # and the exit status says so.
        rc, out, err = run(["-b", "127.0.0.1:9", "-n", "3", "-q",
                            "-X", "max.block.ms=300",
                            "-X", "delivery.timeout.ms=1000",
                            "-X", "request.timeout.ms=500",
                            "-X", "linger.ms=0"], timeout=60)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(field(out, "delivered"), "0")
        self.assertEqual(field(out, "failed"), field(out, "records sent"))
        self.assertIn("KP_ERR_UNKNOWN_TOPIC", out)
        self.assertIn("stopped sending: KP_ERR_UNKNOWN_TOPIC", err)


def pcap_stats(path):
    """kafkit-pcap --stats --json of a capture (any port: the mock's
    ports are picked at random)."""
    p = subprocess.run([PCAP, "--any-port", "--stats", "--json", "-r", path],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("kafkit-pcap: %d %s" % (p.returncode,
                                                     p.stderr.decode()))
    return json.loads(p.stdout)


class Pcap(unittest.TestCase):
    """--pcap: the mock cluster records its own traffic."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.pcap = os.path.join(self.tmp.name, "run.pcap")

    def tearDown(self):
        self.tmp.cleanup()

    def assert_records(self, stats, n):
        self.assertEqual(stats["undecoded"], 0, stats)
        self.assertEqual(stats["requests"], stats["responses"], stats)
        self.assertEqual(sum(c["records"] for c in stats["clients"]), n)
        self.assertEqual(sum(p["records"] for p in stats["partitions"]), n)
        for c in stats["connections"]:
            self.assertRegex(c["name"],
                             r"^#\d+ 127\.0\.0\.1:\d+ > 127\.0\.0\.1:\d+$")

    def test_embedded(self):
        rc, out, err = run(["-n", "2000", "-q", "--pcap", self.pcap])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(field(out, "delivered"), "2000")
        stats = pcap_stats(self.pcap)
        self.assert_records(stats, 2000)
        # tshark reads the synthesized packets as Kafka on the brokers'
        # ports, and sees the Produce requests
        ports = sorted({c["name"].rsplit(":", 1)[1]
                        for c in stats["connections"]})
        args = [TSHARK, "-n", "-r", self.pcap]
        for p in ports:
            args += ["-d", "tcp.port==%s,kafka" % p]
        t = subprocess.run(args + ["-Y", "kafka.request_key == 0",
                                   "-T", "fields", "-e", "frame.number"],
                           capture_output=True, timeout=120)
        self.assertEqual(t.returncode, 0, t.stderr.decode())
        produce = sum(c["produceRequests"] for c in stats["clients"])
        self.assertGreater(produce, 0)
        # a request over several segments counts in tshark once
        self.assertEqual(len(t.stdout.split()), produce)

    def test_unwritable(self):
        bad = os.path.join(self.tmp.name, "no-such-dir", "run.pcap")
        rc, out, err = run(["-n", "5", "-q", "--pcap", bad], timeout=60)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("cannot open pcap file " + bad, err)

    def test_kafkit_mock(self):
        mock = subprocess.Popen(
            [MOCK, "--brokers", "2", "--topic", "t1:2", "--pcap", self.pcap],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        try:
            r, _, _ = select.select([mock.stdout], [], [], 10)
            self.assertTrue(r, "kafkit-mock printed no bootstrap list")
            bootstrap = mock.stdout.readline().decode().strip()
            rc, out, err = run(["-b", bootstrap, "-t", "t1", "-n", "700",
                                "-q"])
            self.assertEqual(rc, 0, out + err)
            mock.send_signal(signal.SIGTERM)
            self.assertEqual(mock.wait(30), 0)
        finally:
            if mock.poll() is None:
                mock.kill()
                mock.wait()
            mock.stdout.close()
        self.assert_records(pcap_stats(self.pcap), 700)


class LiveCapture(unittest.TestCase):
    """kafkit-pcap -i lo while kafkit-produce sends to kafkit-mock: the
    live path (libpcap capture, BPF filter built from -p) decodes the
    Produce request and its response. Needs capture rights (root or
    CAP_NET_RAW), as CI has; without them the test fails and says so."""

    def test_loopback(self):
        mock = subprocess.Popen([MOCK, "--brokers", "1", "--topic", "live:1"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        pcap = None
        try:
            r, _, _ = select.select([mock.stdout], [], [], 10)
            self.assertTrue(r, "kafkit-mock printed no bootstrap list")
            bootstrap = mock.stdout.readline().decode().strip()
            port = bootstrap.rsplit(":", 1)[1]
            pcap = subprocess.Popen([PCAP, "-i", "lo", "-p", port,
                                     "--api", "produce", "--topic", "live",
                                     "-c", "2"],
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            # Produce until the capture, once it is listening, has seen
            # a request and its response (-c 2 ends it).
            for _ in range(100):
                if pcap.poll() is not None:
                    break
                rc, out, err = run(["-b", bootstrap, "-t", "live", "-n", "1",
                                    "-s", "40", "-q"], timeout=60)
                self.assertEqual(rc, 0, out + err)
            out, err = pcap.communicate(timeout=30)
            out, err = out.decode(), err.decode()
            self.assertEqual(pcap.returncode, 0,
                             "kafkit-pcap -i lo (capture rights?): " + err)
        finally:
            if pcap and pcap.poll() is None:
                pcap.kill()
                pcap.wait()
            mock.kill()
            mock.wait()
            mock.stdout.close()
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out + err)
        req = re.search(r"-> 127\.0\.0\.1:%s Produce v(\d+) req corr=(\d+) "
                        r'client="kafkit-produce" .* live/0:1rec/' % port,
                        lines[0])
        self.assertTrue(req, out)
        resp = re.search(r"<- 127\.0\.0\.1:%s Produce v(\d+) resp corr=(\d+) "
                         r".* ok$" % port, lines[1])
        self.assertTrue(resp, out)
        self.assertEqual(req.groups(), resp.groups(), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
