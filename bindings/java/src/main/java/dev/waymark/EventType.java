package dev.waymark;

/** Kinds of event (waymark_event_type_t). */
public enum EventType {
  TRACK(1),
  SCREEN(3),
  PURCHASE(4),
  CUSTOM(6);

  final int code;

  EventType(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
