package dev.waymark;

/** Identifier kinds (waymark_id_kind_t). */
public enum IdKind {
  EMAIL(1),
  PHONE(2),
  FIRST_NAME(3),
  LAST_NAME(4),
  POSTCODE(5),
  ADDRESS(6),
  LOYALTY_ID(7),
  ACCOUNT_ID(8),
  DEVICE_ID(9),
  COOKIE_ID(10),
  CUSTOM(11);

  final int code;

  IdKind(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
