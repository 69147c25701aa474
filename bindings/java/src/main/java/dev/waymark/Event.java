package dev.waymark;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** An event to record. Built with {@link #builder(EventType, String)}; immutable and reusable. */
public final class Event {
  static final int STRING = 0;
  static final int LONG = 1;
  static final int DOUBLE = 2;
  static final int BOOL = 3;

  final EventType type;
  final byte[] name;
  final int channel;
  final int purpose;
  final byte[][] propertyKeys;
  final int[] propertyKinds;
  final byte[][] stringValues;
  final long[] longValues;
  final double[] doubleValues;
  final int revenueKind; // 0 none, 1 minor units, 2 decimal
  final long revenueMinor;
  final double revenueDecimal;
  final byte[] currency;
  final byte[][] campaign;

  private Event(Builder b) {
    type = b.type;
    name = b.name;
    channel = b.channel == null ? -1 : b.channel.code;
    purpose = b.purpose == null ? -1 : b.purpose.code;
    int n = b.keys.size();
    propertyKeys = b.keys.toArray(new byte[0][]);
    propertyKinds = b.kinds.stream().mapToInt(Integer::intValue).toArray();
    stringValues = b.strings.toArray(new byte[0][]);
    longValues = new long[n];
    doubleValues = new double[n];
    for (int i = 0; i < n; ++i) {
      longValues[i] = b.longs.get(i);
      doubleValues[i] = b.doubles.get(i);
    }
    revenueKind = b.revenueKind;
    revenueMinor = b.revenueMinor;
    revenueDecimal = b.revenueDecimal;
    currency = b.currency;
    campaign = b.campaign;
  }

  public static Builder builder(EventType type, String name) {
    return new Builder(type, Objects.requireNonNull(name, "name").getBytes(StandardCharsets.UTF_8));
  }

  /** A name given as bytes (they must be UTF-8; the SDK refuses them otherwise). */
  public static Builder builder(EventType type, byte[] name) {
    return new Builder(type, Objects.requireNonNull(name, "name").clone());
  }

  public static final class Builder {
    private final EventType type;
    private final byte[] name;
    private Channel channel;
    private Purpose purpose;
    private final List<byte[]> keys = new ArrayList<>();
    private final List<Integer> kinds = new ArrayList<>();
    private final List<byte[]> strings = new ArrayList<>();
    private final List<Long> longs = new ArrayList<>();
    private final List<Double> doubles = new ArrayList<>();
    private int revenueKind;
    private long revenueMinor;
    private double revenueDecimal;
    private byte[] currency;
    private byte[][] campaign;

    private Builder(EventType type, byte[] name) {
      this.type = Objects.requireNonNull(type, "type");
      this.name = name;
    }

    public Builder channel(Channel c) {
      channel = Objects.requireNonNull(c, "channel");
      return this;
    }

    public Builder purpose(Purpose p) {
      purpose = Objects.requireNonNull(p, "purpose");
      return this;
    }

    private Builder add(String key, int kind, byte[] s, long l, double d) {
      keys.add(Objects.requireNonNull(key, "key").getBytes(StandardCharsets.UTF_8));
      kinds.add(kind);
      strings.add(s);
      longs.add(l);
      doubles.add(d);
      return this;
    }

    public Builder property(String key, String value) {
      return add(key, STRING, Objects.requireNonNull(value, "value").getBytes(StandardCharsets.UTF_8), 0, 0);
    }

    /** A string property given as bytes (they must be UTF-8). */
    public Builder property(String key, byte[] value) {
      return add(key, STRING, Objects.requireNonNull(value, "value").clone(), 0, 0);
    }

    public Builder property(String key, long value) {
      return add(key, LONG, null, value, 0);
    }

    public Builder property(String key, double value) {
      return add(key, DOUBLE, null, 0, value);
    }

    public Builder property(String key, boolean value) {
      return add(key, BOOL, null, value ? 1 : 0, 0);
    }

    /** Revenue in minor units (pence, cents) of an ISO 4217 currency. */
    public Builder revenue(long amountMinor, String currency) {
      revenueKind = 1;
      revenueMinor = amountMinor;
      this.currency = Objects.requireNonNull(currency, "currency").getBytes(StandardCharsets.UTF_8);
      return this;
    }

    /** Revenue as a decimal amount, converted with the currency's minor unit. */
    public Builder revenueDecimal(double amount, String currency) {
      revenueKind = 2;
      revenueDecimal = amount;
      this.currency = Objects.requireNonNull(currency, "currency").getBytes(StandardCharsets.UTF_8);
      return this;
    }

    /** Campaign attribution (utm_source/medium/campaign/content); null leaves a field empty. */
    public Builder campaign(String source, String medium, String name, String content) {
      campaign = new byte[][] {Options.utf8(source), Options.utf8(medium), Options.utf8(name), Options.utf8(content)};
      return this;
    }

    public Event build() {
      return new Event(this);
    }
  }
}
