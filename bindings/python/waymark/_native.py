"""ctypes declarations of the C ABI (sdk/include/waymark/waymark.h). Only the public C functions are used."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_c = ctypes
Status = _c.c_int32  # waymark_status_t
Handle = _c.c_void_p

# name: (restype, argtypes)
_SIGNATURES = {
    "waymark_status_name": (_c.c_char_p, [Status]),
    "waymark_last_error_message": (_c.c_char_p, []),
    "waymark_version": (_c.c_char_p, []),
    "waymark_options_new": (Status, [_c.POINTER(Handle)]),
    "waymark_options_free": (None, [Handle]),
    "waymark_options_set_store_path": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_options_set_app_id": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_options_set_brand_key": (Status, [Handle, _c.c_char_p, _c.c_size_t, _c.c_uint32]),
    "waymark_options_add_collector_key": (Status, [Handle, _c.c_char_p, _c.c_size_t, _c.c_uint32]),
    "waymark_options_set_device_mode": (Status, [Handle, _c.c_int]),
    "waymark_options_set_durability": (Status, [Handle, _c.c_int]),
    "waymark_options_set_caps": (Status, [Handle, _c.c_int64, _c.c_int64, _c.c_int64]),
    "waymark_options_set_queue_capacity": (Status, [Handle, _c.c_int64]),
    "waymark_options_set_collector_url": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_options_set_tls_ca_file": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_options_set_upload_policy": (Status, [Handle, _c.c_int64, _c.c_int64, _c.c_int64, _c.c_int64]),
    "waymark_options_set_retry_policy": (Status, [Handle, _c.c_int64, _c.c_int64, _c.c_int64, _c.c_int64]),
    "waymark_options_set_idle_timeout_ms": (Status, [Handle, _c.c_int64]),
    "waymark_options_set_default_region": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_options_set_gmail_rules": (Status, [Handle, _c.c_int]),
    "waymark_options_set_child_mode": (Status, [Handle, _c.c_int]),
    "waymark_client_open": (Status, [Handle, _c.POINTER(Handle)]),
    "waymark_client_close": (Status, [Handle]),
    "waymark_client_free": (None, [Handle]),
    "waymark_event_new": (Status, [_c.c_int, _c.c_char_p, _c.c_size_t, _c.POINTER(Handle)]),
    "waymark_event_free": (None, [Handle]),
    "waymark_event_set_channel": (Status, [Handle, _c.c_int]),
    "waymark_event_set_purpose": (Status, [Handle, _c.c_int]),
    "waymark_event_set_string": (Status, [Handle, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "waymark_event_set_int": (Status, [Handle, _c.c_char_p, _c.c_size_t, _c.c_int64]),
    "waymark_event_set_double": (Status, [Handle, _c.c_char_p, _c.c_size_t, _c.c_double]),
    "waymark_event_set_bool": (Status, [Handle, _c.c_char_p, _c.c_size_t, _c.c_int]),
    "waymark_event_set_revenue": (Status, [Handle, _c.c_int64, _c.c_char_p, _c.c_size_t]),
    "waymark_event_set_revenue_decimal": (Status, [Handle, _c.c_double, _c.c_char_p, _c.c_size_t]),
    "waymark_event_set_campaign": (
        Status,
        [Handle, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t],
    ),
    "waymark_client_record": (Status, [Handle, Handle]),
    "waymark_client_record_batch": (Status, [Handle, _c.POINTER(Handle), _c.c_size_t, _c.POINTER(_c.c_int)]),
    "waymark_client_identify": (Status, [Handle, _c.c_int, _c.c_char_p, _c.c_size_t]),
    "waymark_client_identify_verified": (
        Status,
        [Handle, _c.c_int, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t],
    ),
    "waymark_client_device_key": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_client_pseudonymize": (Status, [Handle, _c.c_int, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "waymark_client_set_consent": (Status, [Handle, _c.c_int, _c.c_int, _c.c_char_p, _c.c_size_t]),
    "waymark_client_get_consent": (Status, [Handle, _c.c_int, _c.POINTER(_c.c_int)]),
    "waymark_client_begin_customer": (Status, [Handle]),
    "waymark_client_end_customer": (Status, [Handle]),
    "waymark_client_forget": (Status, [Handle]),
    "waymark_client_forget_with_token": (Status, [Handle, _c.c_char_p, _c.c_size_t]),
    "waymark_client_flush": (Status, [Handle, _c.c_int64]),
    "waymark_client_notify_lifecycle": (Status, [Handle, _c.c_int]),
    "waymark_client_stat": (Status, [Handle, _c.c_int, _c.POINTER(_c.c_int64)]),
}


def _load() -> ctypes.CDLL:
    """libwaymark.so from $WAYMARK_LIBRARY, else wherever the system's loader finds it."""
    path = os.environ.get("WAYMARK_LIBRARY") or ctypes.util.find_library("waymark") or "libwaymark.so"
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"waymark: cannot load the Waymark SDK library ({path}); install libwaymark or set WAYMARK_LIBRARY"
        ) from e
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()
