"""The Python API over the C ABI: what it returns, and that bad input is a clean Python error."""

import os
import tempfile
import threading
import unittest

import waymark
from waymark import Channel, Client, Event, EventType, IdKind, Options, Purpose, Stat, Status, WaymarkError

BRAND_KEY = bytes(range(1, 33))


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="waymark-py-")
        self.options = Options(store_path=os.path.join(self.dir.name, "store"), app_id="py-test", brand_key=BRAND_KEY,
                               default_region="GB")

    def tearDown(self):
        self.dir.cleanup()

    def test_record_identify_consent_and_stats(self):
        with Client(self.options) as c:
            self.assertFalse(c.recovered)
            self.assertEqual(c.record(Event(EventType.TRACK, "before consent")), Status.DROPPED_NO_CONSENT)
            self.assertEqual(c.set_consent(Purpose.ANALYTICS, True, policy_version="2026-01"), Status.OK)
            self.assertTrue(c.get_consent(Purpose.ANALYTICS))
            self.assertFalse(c.get_consent(Purpose.ADVERTISING))
            self.assertEqual(c.identify(IdKind.EMAIL, "Jane.Doe@example.com"), Status.OK)
            event = Event(EventType.PURCHASE, "order", channel=Channel.POS, revenue_minor=1999, currency="GBP",
                          properties={"sku": "A-1", "qty": 2, "price": 9.99, "gift": True, "raw": b"bytes"},
                          campaign=waymark.Campaign(source="newsletter", medium="email"))
            self.assertEqual(c.record(event), Status.OK)
            self.assertEqual(c.record(Event(EventType.CUSTOM, "tip", revenue_decimal=1.5, currency="EUR")), Status.OK)
            c.flush(5000)
            stats = c.stats()
            self.assertEqual(stats["queued"], 4)  # consent, identify, two events
            self.assertEqual(stats["refused"], 1)
            self.assertEqual(c.stat(Stat.REFUSED), 1)
            # The same normalised email gives the same pseudonym; it never equals the input.
            a = c.pseudonymize(IdKind.EMAIL, " JANE.DOE@EXAMPLE.COM")
            self.assertEqual(a, c.pseudonymize(IdKind.EMAIL, "jane.doe@example.com"))
            self.assertEqual(len(a), 32)
        # Privacy: no raw identifier in anything the SDK wrote.
        for root, _, files in os.walk(self.dir.name):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(b"jane.doe", f.read().lower())

    def test_verified_identity_and_erasure_token_arguments(self):
        with Client(self.options) as c:
            c.set_consent(Purpose.ANALYTICS, True)
            key = c.device_key()
            self.assertEqual(len(key), 32)
            self.assertEqual(c.identify_verified(IdKind.ACCOUNT_ID, "A-1001", b"signed by the backend"), Status.OK)
            with self.assertRaises(WaymarkError) as e:
                c.identify_verified(IdKind.ACCOUNT_ID, "A-1001", b"")
            self.assertEqual(e.exception.status, Status.ERR_INVALID_ARGUMENT)
            with self.assertRaises(TypeError):
                c.identify_verified(IdKind.ACCOUNT_ID, "A-1001", "not bytes")
            with self.assertRaises(WaymarkError) as e:
                c.forget(b"x" * 8193)
            self.assertEqual(e.exception.status, Status.ERR_INVALID_ARGUMENT)
            c.forget(b"token")
        with Client(self.options) as c:
            self.assertEqual(c.device_key(), key)  # the same for the life of the store

    def test_record_batch(self):
        with Client(self.options) as c:
            c.set_consent(Purpose.ANALYTICS, True, policy_version="2026-01")
            lines = [Event(EventType.TRACK, "line"), Event(EventType.TRACK, "ad", purpose=Purpose.ADVERTISING)]
            self.assertEqual(c.record_batch(lines), [Status.OK, Status.DROPPED_NO_CONSENT])
            with self.assertRaises(WaymarkError) as e:
                c.record_batch([])
            self.assertEqual(e.exception.status, Status.ERR_INVALID_ARGUMENT)
            with self.assertRaises(WaymarkError) as e:
                c.record_batch([Event(EventType.TRACK, "x")] * 1001)
            self.assertEqual(e.exception.status, Status.ERR_TOO_LARGE)
            c.flush(5000)
            self.assertEqual(c.stats()["queued"], 2)  # consent and the one consented line
            self.assertEqual(c.stats()["refused"], 1)

    def test_library_errors_carry_their_status(self):
        with Client(self.options) as c:
            c.set_consent(Purpose.ANALYTICS, True)
            with self.assertRaises(WaymarkError) as e:
                c.identify(IdKind.EMAIL, "test@test.com")
            self.assertEqual(e.exception.status, Status.ERR_JUNK_IDENTIFIER)
            self.assertIn("ERR_JUNK_IDENTIFIER", str(e.exception))
            with self.assertRaises(WaymarkError) as e:
                c.record(Event(EventType.PURCHASE, "order", revenue_minor=1, currency="XYZ"))
            self.assertEqual(e.exception.status, Status.ERR_UNKNOWN_CURRENCY)
            with self.assertRaises(WaymarkError) as e:
                c.begin_customer()  # a personal device has one customer
            self.assertEqual(e.exception.status, Status.ERR_INVALID_ARGUMENT)

    def test_invalid_utf8_is_refused_by_the_library(self):
        with Client(self.options) as c:
            c.set_consent(Purpose.ANALYTICS, True)
            for bad in (b"\xff\xfe", "lone \udcff surrogate"):
                with self.assertRaises(WaymarkError) as e:
                    c.record(Event(EventType.TRACK, bad))
                self.assertEqual(e.exception.status, Status.ERR_INVALID_UTF8)
                with self.assertRaises(WaymarkError) as e:
                    c.identify(IdKind.EMAIL, bad)
                self.assertEqual(e.exception.status, Status.ERR_INVALID_UTF8)
            with self.assertRaises(WaymarkError) as e:
                c.record(Event(EventType.TRACK, "ok", properties={"k": b"\xc0\xaf"}))
            self.assertEqual(e.exception.status, Status.ERR_INVALID_UTF8)
            self.assertEqual(c.stat(Stat.QUEUED), 1)  # only the consent record

    def test_wrong_types_and_none_are_python_errors(self):
        with Client(self.options) as c:
            c.set_consent(Purpose.ANALYTICS, True)
            with self.assertRaises(TypeError):
                c.record("not an event")
            with self.assertRaises(TypeError):
                c.record(None)
            with self.assertRaises(TypeError):
                c.record(Event(EventType.TRACK, None))
            with self.assertRaises(TypeError):
                c.record(Event(EventType.TRACK, 42))
            with self.assertRaises(TypeError):
                c.record(Event("track", "name"))
            with self.assertRaises(ValueError):
                c.record(Event(99, "name"))
            with self.assertRaises(TypeError):
                c.record(Event(EventType.TRACK, "x", properties={"k": [1, 2]}))
            with self.assertRaises(TypeError):
                c.record(Event(EventType.TRACK, "x", properties={"k": None}))
            with self.assertRaises(OverflowError):
                c.record(Event(EventType.TRACK, "x", properties={"k": 2**64}))
            with self.assertRaises(TypeError):
                c.record(Event(EventType.PURCHASE, "x", revenue_minor=100))  # no currency
            with self.assertRaises(TypeError):
                c.identify(IdKind.EMAIL, None)
            with self.assertRaises(TypeError):
                c.identify(None, "jane@example.com")
            with self.assertRaises(TypeError):
                c.set_consent(Purpose.ANALYTICS, "yes")
            with self.assertRaises(TypeError):
                c.flush("soon")
            with self.assertRaises(TypeError):
                c.stat("queued")
            self.assertEqual(c.stat(Stat.QUEUED), 1)  # nothing of that reached the store
        with self.assertRaises(TypeError):
            Client(None)
        with self.assertRaises(TypeError):
            Client(Options(store_path=self.options.store_path, app_id=None, brand_key=BRAND_KEY))
        with self.assertRaises(OverflowError):
            Client(Options(store_path=self.options.store_path, app_id="x", brand_key=BRAND_KEY, key_epoch=-1))

    def test_bad_options_are_library_errors(self):
        with self.assertRaises(WaymarkError) as e:
            Client(Options(store_path=self.options.store_path, app_id="x", brand_key=b"short"))
        self.assertEqual(e.exception.status, Status.ERR_INVALID_ARGUMENT)
        with self.assertRaises(WaymarkError) as e:
            Client(Options(store_path="/proc/waymark-no-such-dir", app_id="x", brand_key=BRAND_KEY))
        self.assertEqual(e.exception.status, Status.ERR_STORE_IO)
        with self.assertRaises(WaymarkError) as e:
            Client(Options(store_path=self.options.store_path, app_id="x", brand_key=BRAND_KEY,
                           collector_url="ftp://example.com/"))
        self.assertEqual(e.exception.status, Status.ERR_INVALID_ARGUMENT)

    def test_closed_client(self):
        c = Client(self.options)
        c.close()
        c.close()  # idempotent
        for call in (lambda: c.record(Event(EventType.TRACK, "late")), lambda: c.identify(IdKind.EMAIL, "a@b.example"),
                     lambda: c.flush(10), lambda: c.stat(Stat.QUEUED), lambda: c.get_consent(Purpose.ANALYTICS)):
            with self.assertRaises(WaymarkError) as e:
                call()
            self.assertEqual(e.exception.status, Status.ERR_CLOSED)
        del c  # frees the native client

    def test_threads_record_concurrently(self):
        with Client(self.options) as c:
            c.set_consent(Purpose.ANALYTICS, True)
            errors = []

            def work(n):
                try:
                    for i in range(200):
                        c.record(Event(EventType.TRACK, f"t{n}-{i}", properties={"i": i}))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            c.flush(10000)
            self.assertEqual(c.stat(Stat.QUEUED), 801)

    def test_version(self):
        self.assertRegex(waymark.version(), r"^\d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
