package dev.waymark;

/** Client counters (waymark_stat_t). */
public enum Stat {
  QUEUED(1),
  BYTES(2),
  DROPPED(3),
  REFUSED(4),
  EVICTED(5),
  UNREADABLE(6),
  PURGED(7),
  UPLOADED(8),
  DEAD_LETTERED(9),
  REJECTED(10);

  final int code;

  Stat(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
