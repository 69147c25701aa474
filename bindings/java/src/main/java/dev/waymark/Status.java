package dev.waymark;

/** Status codes of the C ABI; negative values are errors (thrown as WaymarkException). */
public enum Status {
  OK(0),
  DROPPED_NO_CONSENT(1),
  STORE_RECOVERED(2),
  ERR_INVALID_ARGUMENT(-1),
  ERR_CLOSED(-2),
  ERR_NO_MEMORY(-3),
  ERR_INVALID_UTF8(-4),
  ERR_TOO_LARGE(-5),
  ERR_JUNK_IDENTIFIER(-6),
  ERR_INVALID_IDENTIFIER(-7),
  ERR_INVALID_VALUE(-8),
  ERR_UNKNOWN_CURRENCY(-9),
  ERR_STORE_IO(-10),
  ERR_STORE_FULL(-11),
  ERR_KEYSTORE(-12),
  ERR_CRYPTO(-13),
  ERR_TIMEOUT(-14),
  ERR_NO_CUSTOMER(-15),
  ERR_QUEUE_FULL(-16),
  ERR_NOT_ALLOWED(-17),
  ERR_INTERNAL(-18),
  ERR_NETWORK(-19),
  ERR_REJECTED(-20);

  final int code;

  Status(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }

  /** The status of a C ABI value (ERR_INTERNAL for a value this binding does not know). */
  public static Status of(int code) {
    for (Status s : values()) {
      if (s.code == code) return s;
    }
    return ERR_INTERNAL;
  }
}
