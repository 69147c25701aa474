package dev.waymark;

import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An open SDK client. Thread-safe. In async durability {@link #record} only queues (it never waits for
 * the disk or the network); {@link #flushAsync} waits on a background thread, so an Android main thread
 * never blocks. After {@link #close} every call throws {@code WaymarkException(ERR_CLOSED)}; the native
 * client is freed once the Client is unreachable.
 */
public final class Client implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();
  private static final ExecutorService FLUSHER =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "waymark-flush");
            t.setDaemon(true);
            return t;
          });

  private final long handle;
  private final boolean recovered;

  private Client(long handle, boolean recovered) {
    this.handle = handle;
    this.recovered = recovered;
  }

  /** Opens a client; creates the store, the device keys and the data key on first use. */
  public static Client open(Options o) {
    Objects.requireNonNull(o, "options");
    long[] out = new long[2];
    int code =
        Native.open(Options.utf8(o.storePath), Options.utf8(o.appId), o.brandKey, o.keyEpoch, o.deviceMode.code,
            o.durability.code, o.childMode, Options.utf8(o.defaultRegion), Options.utf8(o.collectorUrl),
            o.collectorKeyIds, o.collectorKeys, o.retryPolicy, o.keyStore, out);
    check(code);
    Client c = new Client(out[0], code == Status.STORE_RECOVERED.code);
    long handle = out[0], platform = out[1]; // the platform context holds the KeyStore until then
    CLEANER.register(c, () -> Native.free(handle, platform));
    return c;
  }

  static Status check(int code) {
    Status s = Status.of(code);
    if (code < 0) throw new WaymarkException(s, Native.lastErrorMessage());
    return s;
  }

  /** True when the store was corrupt, was moved aside and a fresh one was created. */
  public boolean recovered() {
    return recovered;
  }

  /** Stores what is in memory and stops the client's threads. Idempotent. */
  @Override
  public void close() {
    check(Native.close(handle));
  }

  /** OK, or DROPPED_NO_CONSENT when the event's purpose is not consented (counted, not stored). */
  public Status record(Event e) {
    long[] events = nativeEvents(List.of(Objects.requireNonNull(e, "event")));
    try {
      return check(Native.record(handle, events[0]));
    } finally {
      Native.eventFree(events[0]);
    }
  }

  /**
   * Records up to 1000 events as one unit (durable: one commit, one fsync for all) and returns each
   * one's status: OK, or DROPPED_NO_CONSENT (not stored, counted). On an error nothing is stored.
   */
  public List<Status> recordBatch(List<Event> batch) {
    long[] events = nativeEvents(Objects.requireNonNull(batch, "events"));
    try {
      int[] statuses = new int[events.length];
      check(Native.recordBatch(handle, events, statuses));
      List<Status> out = new ArrayList<>(statuses.length);
      for (int s : statuses) out.add(Status.of(s));
      return out;
    } finally {
      for (long ev : events) Native.eventFree(ev);
    }
  }

  private static long[] nativeEvents(List<Event> batch) {
    long[] events = new long[batch.size()];
    long[] out = new long[1];
    int built = 0;
    try {
      for (Event e : batch) {
        Objects.requireNonNull(e, "event");
        check(Native.eventNew(e.type.code, e.name, e.channel, e.purpose, e.propertyKeys, e.propertyKinds,
            e.stringValues, e.longValues, e.doubleValues, e.revenueKind, e.revenueMinor, e.revenueDecimal, e.currency,
            e.campaign, out));
        events[built++] = out[0];
      }
      return events;
    } catch (RuntimeException ex) {
      for (int i = 0; i < built; ++i) Native.eventFree(events[i]);
      throw ex;
    }
  }

  /** Attaches an identifier to the current customer (normalised and pseudonymised in the SDK). */
  public Status identify(IdKind kind, String value) {
    return identify(kind, Objects.requireNonNull(value, "value").getBytes(StandardCharsets.UTF_8));
  }

  /** An identifier given as bytes (they must be UTF-8); the array is wiped afterwards. */
  public Status identify(IdKind kind, byte[] value) {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(value, "value");
    try {
      return check(Native.identify(handle, kind.code, value));
    } finally {
      Arrays.fill(value, (byte) 0);
    }
  }

  /**
   * identify() with the identity assertion the brand's backend signed at login for this identifier and
   * this device's key ({@link #deviceKey()}); the collector checks it (docs/security.md).
   */
  public Status identifyVerified(IdKind kind, String value, byte[] assertion) {
    Objects.requireNonNull(kind, "kind");
    byte[] v = Objects.requireNonNull(value, "value").getBytes(StandardCharsets.UTF_8);
    try {
      return check(Native.identifyVerified(handle, kind.code, v, Objects.requireNonNull(assertion, "assertion")));
    } finally {
      Arrays.fill(v, (byte) 0);
    }
  }

  /** This device's Ed25519 public key (32 bytes), which identity assertions name. */
  public byte[] deviceKey() {
    byte[] out = new byte[32];
    check(Native.deviceKey(handle, out));
    return out;
  }

  public Status setConsent(Purpose purpose, boolean granted, String policyVersion) {
    Objects.requireNonNull(purpose, "purpose");
    return check(Native.setConsent(handle, purpose.code, granted, Options.utf8(Objects.requireNonNull(policyVersion))));
  }

  public boolean consent(Purpose purpose) {
    int[] out = new int[1];
    check(Native.getConsent(handle, Objects.requireNonNull(purpose, "purpose").code, out));
    return out[0] != 0;
  }

  /** Shared devices: starts a customer slot (a visit). */
  public void beginCustomer() {
    check(Native.beginCustomer(handle));
  }

  /** Shared devices: ends the slot, wiping its identifiers and consent from memory. */
  public void endCustomer() {
    check(Native.endCustomer(handle));
  }

  /** Erases the current customer here and asks the collector to erase what this device sent. */
  public void forget() {
    check(Native.forget(handle));
  }

  /** forget() for the whole customer on every device, with the erasure token the brand's backend signed. */
  public void forget(byte[] erasureToken) {
    check(Native.forgetWithToken(handle, Objects.requireNonNull(erasureToken, "erasureToken")));
  }

  /** Blocks until everything recorded so far is stored and, with a collector, acknowledged. */
  public void flush(long timeoutMs) {
    check(Native.flush(handle, timeoutMs));
  }

  /** {@link #flush} on a background thread. */
  public CompletableFuture<Void> flushAsync(long timeoutMs) {
    return CompletableFuture.runAsync(() -> flush(timeoutMs), FLUSHER);
  }

  public long stat(Stat stat) {
    long[] out = new long[1];
    check(Native.stat(handle, Objects.requireNonNull(stat, "stat").code, out));
    return out[0];
  }

  /** The library's version. */
  public static String version() {
    return Native.version();
  }
}
