"""Waymark: privacy-first customer data SDK for Python.

A thin, typed layer over the SDK's C ABI (libwaymark.so). Identifiers are normalised and pseudonymised
inside the library; nothing raw is stored or sent. Every method is safe to call from several threads (the
GIL is released while the library works).

    import waymark

    options = waymark.Options(store_path="/var/lib/kiosk/waymark", app_id="kiosk", brand_key=key)
    with waymark.Client(options) as client:
        client.set_consent(waymark.Purpose.ANALYTICS, True, policy_version="2026-01")
        client.identify(waymark.IdKind.EMAIL, "jane@example.com")
        client.record(waymark.Event(waymark.EventType.TRACK, "viewed product", channel=waymark.Channel.KIOSK))
        client.flush(timeout_ms=10_000)

Errors raise WaymarkError, which carries the library's Status; DROPPED_NO_CONSENT is not an error (the
event was refused for lack of consent and counted) and is returned.
"""

from __future__ import annotations

import ctypes
import enum
import os
import weakref
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple, Union

from ._native import lib as _lib

__all__ = [
    "Campaign",
    "Channel",
    "Client",
    "DeviceMode",
    "Durability",
    "Event",
    "EventType",
    "IdKind",
    "Options",
    "Purpose",
    "Stat",
    "Status",
    "WaymarkError",
    "version",
]

Text = Union[str, bytes]
PropertyValue = Union[str, bytes, bool, int, float]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Status(enum.IntEnum):
    """Status codes of the C ABI (WAYMARK_*); negative values are errors."""

    OK = 0
    DROPPED_NO_CONSENT = 1
    STORE_RECOVERED = 2
    ERR_INVALID_ARGUMENT = -1
    ERR_CLOSED = -2
    ERR_NO_MEMORY = -3
    ERR_INVALID_UTF8 = -4
    ERR_TOO_LARGE = -5
    ERR_JUNK_IDENTIFIER = -6
    ERR_INVALID_IDENTIFIER = -7
    ERR_INVALID_VALUE = -8
    ERR_UNKNOWN_CURRENCY = -9
    ERR_STORE_IO = -10
    ERR_STORE_FULL = -11
    ERR_KEYSTORE = -12
    ERR_CRYPTO = -13
    ERR_TIMEOUT = -14
    ERR_NO_CUSTOMER = -15
    ERR_QUEUE_FULL = -16
    ERR_NOT_ALLOWED = -17
    ERR_INTERNAL = -18
    ERR_NETWORK = -19
    ERR_REJECTED = -20


class WaymarkError(Exception):
    """A call the library refused. `status` says why; the message is the library's."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(f"{status.name}: {message}")
        self.status = status
        self.message = message


class EventType(enum.IntEnum):
    TRACK = 1
    SCREEN = 3
    PURCHASE = 4
    CUSTOM = 6


class Channel(enum.IntEnum):
    UNKNOWN = 0
    APP = 1
    WEB = 2
    KIOSK = 3
    ATM = 4
    POS = 5
    CALL_CENTRE = 6
    EMAIL = 7
    SMS = 8
    PUSH = 9
    OTHER = 10
    IVR = 11
    DISPLAY = 12
    VIDEO = 13
    SOCIAL = 14
    TV = 15
    RADIO = 16
    PRINT = 17


class Purpose(enum.IntEnum):
    ANALYTICS = 1
    PERSONALISATION = 2
    ADVERTISING = 3


class IdKind(enum.IntEnum):
    EMAIL = 1
    PHONE = 2
    FIRST_NAME = 3
    LAST_NAME = 4
    POSTCODE = 5
    ADDRESS = 6
    LOYALTY_ID = 7
    ACCOUNT_ID = 8
    DEVICE_ID = 9
    COOKIE_ID = 10
    CUSTOM = 11


class DeviceMode(enum.IntEnum):
    PERSONAL = 0
    SHARED = 1


class Durability(enum.IntEnum):
    ASYNC = 0
    DURABLE = 1


class Stat(enum.IntEnum):
    QUEUED = 1
    BYTES = 2
    DROPPED = 3
    REFUSED = 4
    EVICTED = 5
    UNREADABLE = 6
    PURGED = 7
    UPLOADED = 8
    DEAD_LETTERED = 9
    REJECTED = 10


def version() -> str:
    """The library's version."""
    return _lib.waymark_version().decode()


def _check(code: int) -> Status:
    """Returns a non-error status; raises WaymarkError for an error."""
    status = Status(code)
    if status < 0:
        raise WaymarkError(status, (_lib.waymark_last_error_message() or b"").decode("utf-8", "replace"))
    return status


def _bytes(value: Text, what: str) -> bytes:
    # str with lone surrogates is passed through as the bytes it holds: the library then refuses it
    # with ERR_INVALID_UTF8, as it does for invalid bytes.
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")


def _blob(value: object, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}")


def _enum(cls: type, value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a {cls.__name__}, not {type(value).__name__}")
    return int(cls(value))  # ValueError for a number that is not a member


def _int64(value: object, what: str, lo: int = _INT64_MIN, hi: int = _INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise OverflowError(f"{what} must be between {lo} and {hi}")
    return value


@dataclass(frozen=True)
class Campaign:
    """Campaign attribution (utm_source / utm_medium / utm_campaign / utm_content)."""

    source: Optional[Text] = None
    medium: Optional[Text] = None
    name: Optional[Text] = None
    content: Optional[Text] = None


@dataclass
class Event:
    """An event to record. Revenue is given in minor units (`revenue_minor`, e.g. pence) or as a decimal
    amount (`revenue_decimal`), with an ISO 4217 `currency`."""

    type: EventType
    name: Text
    channel: Optional[Channel] = None
    purpose: Optional[Purpose] = None
    properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    revenue_minor: Optional[int] = None
    revenue_decimal: Optional[float] = None
    currency: Optional[str] = None
    campaign: Optional[Campaign] = None


@dataclass
class Options:
    """How a client is opened. `brand_key` is the brand's 32-byte identity key at `key_epoch`;
    `collector_keys` maps a collector key id to its 32-byte public key. Tuples are
    (batch_max_events, batch_max_bytes, flush_at_events, flush_interval_ms) for `upload_policy` and
    (base_ms, cap_ms, connect_timeout_ms, io_timeout_ms) for `retry_policy`."""

    store_path: Union[str, "os.PathLike[str]"]
    app_id: str
    brand_key: bytes
    key_epoch: int = 1
    device_mode: DeviceMode = DeviceMode.PERSONAL
    durability: Durability = Durability.ASYNC
    child_mode: bool = False
    default_region: Optional[str] = None
    gmail_rules: bool = False
    collector_url: Optional[str] = None
    collector_keys: Mapping[int, bytes] = field(default_factory=dict)
    tls_ca_file: Optional[str] = None
    queue_capacity: Optional[int] = None
    caps: Optional[Tuple[int, int, int]] = None
    idle_timeout_ms: Optional[int] = None
    upload_policy: Optional[Tuple[int, int, int, int]] = None
    retry_policy: Optional[Tuple[int, int, int, int]] = None


def _set(fn, handle, value: Text, what: str) -> None:
    b = _bytes(value, what)
    _check(fn(handle, b, len(b)))


def _native_options(o: Options) -> ctypes.c_void_p:
    if not isinstance(o, Options):
        raise TypeError(f"options must be waymark.Options, not {type(o).__name__}")
    handle = ctypes.c_void_p()
    _check(_lib.waymark_options_new(ctypes.byref(handle)))
    try:
        _set(_lib.waymark_options_set_store_path, handle, os.fsencode(o.store_path), "store_path")
        _set(_lib.waymark_options_set_app_id, handle, o.app_id, "app_id")
        key = _bytes(o.brand_key, "brand_key")
        _check(_lib.waymark_options_set_brand_key(handle, key, len(key), _int64(o.key_epoch, "key_epoch", 0, 2**32 - 1)))
        _check(_lib.waymark_options_set_device_mode(handle, _enum(DeviceMode, o.device_mode, "device_mode")))
        _check(_lib.waymark_options_set_durability(handle, _enum(Durability, o.durability, "durability")))
        _check(_lib.waymark_options_set_child_mode(handle, 1 if o.child_mode else 0))
        _check(_lib.waymark_options_set_gmail_rules(handle, 1 if o.gmail_rules else 0))
        if o.default_region is not None:
            _set(_lib.waymark_options_set_default_region, handle, o.default_region, "default_region")
        if o.collector_url is not None:
            _set(_lib.waymark_options_set_collector_url, handle, o.collector_url, "collector_url")
        for key_id, public_key in o.collector_keys.items():
            pk = _bytes(public_key, "collector key")
            _check(_lib.waymark_options_add_collector_key(handle, pk, len(pk), _int64(key_id, "collector key id", 0, 2**32 - 1)))
        if o.tls_ca_file is not None:
            _set(_lib.waymark_options_set_tls_ca_file, handle, o.tls_ca_file, "tls_ca_file")
        if o.queue_capacity is not None:
            _check(_lib.waymark_options_set_queue_capacity(handle, _int64(o.queue_capacity, "queue_capacity")))
        if o.idle_timeout_ms is not None:
            _check(_lib.waymark_options_set_idle_timeout_ms(handle, _int64(o.idle_timeout_ms, "idle_timeout_ms")))
        for fn, values, what in (
            (_lib.waymark_options_set_caps, o.caps, "caps"),
            (_lib.waymark_options_set_upload_policy, o.upload_policy, "upload_policy"),
            (_lib.waymark_options_set_retry_policy, o.retry_policy, "retry_policy"),
        ):
            if values is not None:
                _check(fn(handle, *(_int64(v, what) for v in values)))
    except BaseException:
        _lib.waymark_options_free(handle)
        raise
    return handle


def _native_event(e: Event) -> ctypes.c_void_p:
    if not isinstance(e, Event):
        raise TypeError(f"event must be waymark.Event, not {type(e).__name__}")
    name = _bytes(e.name, "event name")
    handle = ctypes.c_void_p()
    _check(_lib.waymark_event_new(_enum(EventType, e.type, "event type"), name, len(name), ctypes.byref(handle)))
    try:
        if e.channel is not None:
            _check(_lib.waymark_event_set_channel(handle, _enum(Channel, e.channel, "channel")))
        if e.purpose is not None:
            _check(_lib.waymark_event_set_purpose(handle, _enum(Purpose, e.purpose, "purpose")))
        for key, value in e.properties.items():
            k = _bytes(key, "property key")
            if isinstance(value, bool):
                _check(_lib.waymark_event_set_bool(handle, k, len(k), 1 if value else 0))
            elif isinstance(value, int):
                _check(_lib.waymark_event_set_int(handle, k, len(k), _int64(value, f"property {key!r}")))
            elif isinstance(value, float):
                _check(_lib.waymark_event_set_double(handle, k, len(k), value))
            else:
                v = _bytes(value, f"property {key!r}")
                _check(_lib.waymark_event_set_string(handle, k, len(k), v, len(v)))
        if e.revenue_minor is not None or e.revenue_decimal is not None:
            if e.currency is None:
                raise TypeError("revenue needs a currency")
            currency = _bytes(e.currency, "currency")
            if e.revenue_minor is not None:
                minor = _int64(e.revenue_minor, "revenue_minor")
                _check(_lib.waymark_event_set_revenue(handle, minor, currency, len(currency)))
            else:
                if not isinstance(e.revenue_decimal, (int, float)) or isinstance(e.revenue_decimal, bool):
                    raise TypeError("revenue_decimal must be a number")
                _check(_lib.waymark_event_set_revenue_decimal(handle, float(e.revenue_decimal), currency, len(currency)))
        if e.campaign is not None:
            fields = []
            for part in (e.campaign.source, e.campaign.medium, e.campaign.name, e.campaign.content):
                b = b"" if part is None else _bytes(part, "campaign field")
                fields += [b, len(b)]
            _check(_lib.waymark_event_set_campaign(handle, *fields))
    except BaseException:
        _lib.waymark_event_free(handle)
        raise
    return handle


class Client:
    """An open SDK client. Use it as a context manager, or call close(); after close every call raises
    WaymarkError(ERR_CLOSED). `recovered` is True when the store was corrupt and a fresh one was made."""

    def __init__(self, options: Options) -> None:
        native = _native_options(options)
        handle = ctypes.c_void_p()
        status = _check(_lib.waymark_client_open(native, ctypes.byref(handle)))  # takes the options in every case
        self._handle = handle
        self._finalizer = weakref.finalize(self, _lib.waymark_client_free, handle)
        self.recovered = status == Status.STORE_RECOVERED

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flushes what is in memory to the store and stops the client's threads. Idempotent."""
        _check(_lib.waymark_client_close(self._handle))

    def record(self, event: Event) -> Status:
        """Records an event: OK, or DROPPED_NO_CONSENT when its purpose is not consented (counted)."""
        native = _native_event(event)
        try:
            return _check(_lib.waymark_client_record(self._handle, native))
        finally:
            _lib.waymark_event_free(native)

    def record_batch(self, events: "list[Event]") -> "list[Status]":
        """Records up to 1000 events as one unit (durable: one commit for all). Returns each event's
        status (OK, or DROPPED_NO_CONSENT: not stored, counted); on an error nothing is stored."""
        natives = []
        try:
            for event in events:
                natives.append(_native_event(event))
            array = (ctypes.c_void_p * len(natives))(*natives)
            statuses = (ctypes.c_int * len(natives))()
            _check(_lib.waymark_client_record_batch(self._handle, array, len(natives), statuses))
            return [Status(s) for s in statuses]
        finally:
            for native in natives:
                _lib.waymark_event_free(native)

    def identify(self, kind: IdKind, value: Text) -> Status:
        """Attaches an identifier to the current customer (normalised and pseudonymised in the library)."""
        v = _bytes(value, "identifier")
        return _check(_lib.waymark_client_identify(self._handle, _enum(IdKind, kind, "kind"), v, len(v)))

    def identify_verified(self, kind: IdKind, value: Text, assertion: bytes) -> Status:
        """identify() with the identity assertion the brand's backend signed for this identifier and this
        device's key (device_key()), at the customer's login. The collector checks it (docs/security.md)."""
        v = _bytes(value, "identifier")
        a = _blob(assertion, "assertion")
        return _check(_lib.waymark_client_identify_verified(self._handle, _enum(IdKind, kind, "kind"), v, len(v), a,
                                                            len(a)))

    def device_key(self) -> bytes:
        """This device's Ed25519 public key (32 bytes), which identity assertions name."""
        out = ctypes.create_string_buffer(32)
        _check(_lib.waymark_client_device_key(self._handle, out, 32))
        return out.raw

    def pseudonymize(self, kind: IdKind, value: Text) -> bytes:
        """The 32-byte pseudonym the SDK would send for this identifier."""
        v = _bytes(value, "identifier")
        out = ctypes.create_string_buffer(32)
        _check(_lib.waymark_client_pseudonymize(self._handle, _enum(IdKind, kind, "kind"), v, len(v), out, 32))
        return out.raw

    def set_consent(self, purpose: Purpose, granted: bool, policy_version: Text = "1") -> Status:
        if not isinstance(granted, bool):
            raise TypeError(f"granted must be a bool, not {type(granted).__name__}")
        p = _bytes(policy_version, "policy_version")
        return _check(
            _lib.waymark_client_set_consent(self._handle, _enum(Purpose, purpose, "purpose"), int(granted), p, len(p))
        )

    def get_consent(self, purpose: Purpose) -> bool:
        granted = ctypes.c_int(0)
        _check(_lib.waymark_client_get_consent(self._handle, _enum(Purpose, purpose, "purpose"), ctypes.byref(granted)))
        return granted.value != 0

    def begin_customer(self) -> None:
        """Shared devices: starts a customer slot (a visit)."""
        _check(_lib.waymark_client_begin_customer(self._handle))

    def end_customer(self) -> None:
        """Shared devices: ends the slot, wiping its identifiers and consent from memory."""
        _check(_lib.waymark_client_end_customer(self._handle))

    def forget(self, erasure_token: Optional[bytes] = None) -> None:
        """Erases the current customer here and asks the collector to erase what this device sent; with
        the erasure token the brand's backend signed, the whole customer on every device."""
        if erasure_token is None:
            _check(_lib.waymark_client_forget(self._handle))
        else:
            t = _blob(erasure_token, "erasure_token")
            _check(_lib.waymark_client_forget_with_token(self._handle, t, len(t)))

    def flush(self, timeout_ms: int = 30_000) -> None:
        """Waits until everything recorded so far is stored and, with a collector, acknowledged.
        Raises WaymarkError(ERR_TIMEOUT) when the deadline passes first."""
        _check(_lib.waymark_client_flush(self._handle, _int64(timeout_ms, "timeout_ms")))

    def stat(self, stat: Stat) -> int:
        value = ctypes.c_int64(0)
        _check(_lib.waymark_client_stat(self._handle, _enum(Stat, stat, "stat"), ctypes.byref(value)))
        return value.value

    def stats(self) -> dict:
        """Every counter, by lower-case name."""
        return {s.name.lower(): self.stat(s) for s in Stat}
