package dev.waymark;

/** One customer per device, or many (kiosks, POS). */
public enum DeviceMode {
  PERSONAL(0),
  SHARED(1);

  final int code;

  DeviceMode(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
