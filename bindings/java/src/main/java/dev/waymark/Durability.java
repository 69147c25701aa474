package dev.waymark;

/** Whether record returns before or after its row is on disk. */
public enum Durability {
  ASYNC(0),
  DURABLE(1);

  final int code;

  Durability(int code) {
    this.code = code;
  }

  /** The C ABI's value. */
  public int code() {
    return code;
  }
}
