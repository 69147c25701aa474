"""tests/conformance/cases.json through the Python API: the same statuses as the C ABI reference runner.

Needs WAYMARK_COLLECTOR (the waymark-collector executable) for the cases that upload; CTest sets it, and
WAYMARK_CONFORMANCE_CASES when the case file is not at its place in the source tree."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from waymark import (Campaign, Channel, Client, DeviceMode, Durability, Event, EventType, IdKind, Options, Purpose,
                     Stat, Status, WaymarkError)

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.environ.get("WAYMARK_CONFORMANCE_CASES",
                       os.path.join(HERE, "..", "..", "..", "tests", "conformance", "cases.json"))
BRAND_KEY = bytes([0x57, 0x61, 0x79, 0x6D, 0x61, 0x72, 0x6B, 1, 2, 3, 4, 5, 6, 7, 8, 9]) + bytes(16)


def text(spec):
    """A string of a case: text, {"hex": ...} (bytes that need not be UTF-8) or {"repeat": s, "count": n}."""
    if isinstance(spec, str):
        return spec
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    return spec["repeat"] * spec["count"]


class Collector:
    """The real waymark-collector on 127.0.0.1, in its own directory."""

    def __init__(self, binary, directory):
        out = subprocess.run([binary, "keys", "generate", "--data-dir", directory, "--key-id", "1"], check=True,
                             capture_output=True, text=True).stdout
        self.public_key = bytes.fromhex(re.search(r"public_key=([0-9a-f]{64})", out).group(1))
        self.log = open(os.path.join(directory, "collector.log"), "w+")
        self.process = subprocess.Popen([binary, "serve", "--data-dir", directory, "--port", "0"],
                                        stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(300):
            self.log.seek(0)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the collector did not start")

    def events(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            m = re.search(r"^waymark_events_accepted_total (\d+)$", r.read().decode(), re.M)
        return int(m.group(1)) if m else 0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class Run:
    """One case: a client, its store, and the collector when a step uploads."""

    def __init__(self, directory):
        self.dir = directory
        self.client = None
        self.collector = None
        self.stores = 0
        self.store = None

    def close(self):
        self.client = None  # frees the native client
        if self.collector:
            self.collector.stop()

    def step(self, s):
        """Runs one step; returns the status name it ended with."""
        try:
            return getattr(self, "op_" + s["op"])(s).name
        except WaymarkError as e:
            return e.status.name

    @staticmethod
    def check(s, value):
        if "value" in s and value != s["value"]:
            raise AssertionError(f"{s['op']}: expected {s['value']!r}, got {value!r}")
        if "min" in s and value < s["min"]:
            raise AssertionError(f"{s['op']}: expected at least {s['min']}, got {value}")

    def op_open(self, s):
        self.client = None
        if s.get("store", "fresh") == "fresh":
            self.stores += 1
            self.store = os.path.join(self.dir, f"store-{self.stores}")
        options = Options(store_path=self.store, app_id="conformance", brand_key=BRAND_KEY, default_region="GB",
                          device_mode=DeviceMode.SHARED if s.get("mode") == "shared" else DeviceMode.PERSONAL,
                          durability=Durability.DURABLE if s.get("durability") == "durable" else Durability.ASYNC,
                          child_mode=s.get("child_mode", False))
        if s.get("upload"):
            if self.collector is None:
                binary = os.environ.get("WAYMARK_COLLECTOR")
                if not binary:
                    raise unittest.SkipTest("WAYMARK_COLLECTOR is not set")
                self.collector = Collector(binary, os.path.join(self.dir, "collector"))
            options.collector_url = f"http://127.0.0.1:{self.collector.port}/v1/batches"
            options.collector_keys = {1: self.collector.public_key}
            options.retry_policy = (50, 500, 2000, 5000)
        self.client = Client(options)
        return Status.STORE_RECOVERED if self.client.recovered else Status.OK

    def op_close(self, s):
        self.client.close()
        return Status.OK

    @staticmethod
    def event(e):
        revenue = e.get("revenue", {})
        campaign = e.get("campaign")
        return Event(EventType[e["type"].upper()], text(e["name"]),
                     channel=Channel[e["channel"].upper()] if "channel" in e else None,
                     purpose=Purpose[e["purpose"].upper()] if "purpose" in e else None,
                     properties={k: text(v) if isinstance(v, dict) else v for k, v in e.get("properties", {}).items()},
                     revenue_minor=revenue.get("minor"), revenue_decimal=revenue.get("decimal"),
                     currency=revenue.get("currency"), campaign=Campaign(**campaign) if campaign else None)

    def op_record(self, s):
        return self.client.record(self.event(s["event"]))

    def op_record_batch(self, s):
        statuses = self.client.record_batch([self.event(e) for e in s["events"]])
        if "statuses" in s and [st.name for st in statuses] != s["statuses"]:
            raise AssertionError(f"record_batch: expected {s['statuses']}, got {[st.name for st in statuses]}")
        return Status.DROPPED_NO_CONSENT if Status.DROPPED_NO_CONSENT in statuses else Status.OK

    def op_identify(self, s):
        return self.client.identify(IdKind[s["kind"].upper()], text(s["value"]))

    def op_set_consent(self, s):
        return self.client.set_consent(Purpose[s["purpose"].upper()], s["granted"], "conformance-1")

    def op_get_consent(self, s):
        self.check(s, self.client.get_consent(Purpose[s["purpose"].upper()]))
        return Status.OK

    def op_begin_customer(self, s):
        self.client.begin_customer()
        return Status.OK

    def op_end_customer(self, s):
        self.client.end_customer()
        return Status.OK

    def op_forget(self, s):
        self.client.forget()
        return Status.OK

    def op_flush(self, s):
        self.client.flush(s["timeout_ms"])
        return Status.OK

    def op_stat(self, s):
        self.check(s, self.client.stat(Stat[s["stat"].upper()]))
        return Status.OK

    def op_collector_events(self, s):
        self.check(s, self.collector.events())
        return Status.OK


class ConformanceTest(unittest.TestCase):
    def test_cases(self):
        with open(CASES) as f:
            doc = json.load(f)
        self.assertEqual(doc["format"], 1)
        self.assertGreater(len(doc["cases"]), 0)
        for case in doc["cases"]:
            with self.subTest(case=case["name"]):
                directory = tempfile.mkdtemp(prefix="waymark-py-conformance-")
                run = Run(directory)
                try:
                    for i, s in enumerate(case["steps"], 1):
                        got = run.step(s)
                        self.assertEqual(got, s.get("expect", "OK"), f"step {i} ({s['op']})")
                finally:
                    run.close()
                    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
