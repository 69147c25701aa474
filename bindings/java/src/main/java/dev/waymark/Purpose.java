package dev.waymark;

/** Consent purposes (waymark_purpose_t). */
public enum Purpose {
  ANALYTICS(1),
  PERSONALISATION(2),
  ADVERTISING(3);

  final int code;

  Purpose(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
