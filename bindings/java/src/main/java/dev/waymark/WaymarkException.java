package dev.waymark;

/** A call the SDK refused; {@link #status()} says why and the message is the library's. */
public final class WaymarkException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final Status status;

  WaymarkException(Status status, String message) {
    super(status.name() + ": " + message);
    this.status = status;
  }

  public Status status() {
    return status;
  }
}
