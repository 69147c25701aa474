package dev.waymark;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** How a client is opened. Built with {@link #builder(String, String, byte[])}. */
public final class Options {
  final String storePath;
  final String appId;
  final byte[] brandKey;
  final long keyEpoch;
  final DeviceMode deviceMode;
  final Durability durability;
  final boolean childMode;
  final String defaultRegion;
  final String collectorUrl;
  final int[] collectorKeyIds;
  final byte[][] collectorKeys;
  final long[] retryPolicy;
  final KeyStore keyStore;

  private Options(Builder b) {
    storePath = b.storePath;
    appId = b.appId;
    brandKey = b.brandKey.clone();
    keyEpoch = b.keyEpoch;
    deviceMode = b.deviceMode;
    durability = b.durability;
    childMode = b.childMode;
    defaultRegion = b.defaultRegion;
    collectorUrl = b.collectorUrl;
    collectorKeyIds = b.keyIds.stream().mapToInt(Integer::intValue).toArray();
    collectorKeys = b.keys.toArray(new byte[0][]);
    retryPolicy = b.retryPolicy;
    keyStore = b.keyStore;
  }

  /** The store directory (created if missing), the app's id, and the brand's 32-byte identity key. */
  public static Builder builder(String storePath, String appId, byte[] brandKey) {
    return new Builder(storePath, appId, brandKey);
  }

  static byte[] utf8(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  public static final class Builder {
    private final String storePath;
    private final String appId;
    private final byte[] brandKey;
    private long keyEpoch = 1;
    private DeviceMode deviceMode = DeviceMode.PERSONAL;
    private Durability durability = Durability.ASYNC;
    private boolean childMode;
    private String defaultRegion;
    private String collectorUrl;
    private final List<Integer> keyIds = new ArrayList<>();
    private final List<byte[]> keys = new ArrayList<>();
    private long[] retryPolicy;
    private KeyStore keyStore;

    private Builder(String storePath, String appId, byte[] brandKey) {
      this.storePath = Objects.requireNonNull(storePath, "storePath");
      this.appId = Objects.requireNonNull(appId, "appId");
      this.brandKey = Objects.requireNonNull(brandKey, "brandKey");
    }

    public Builder keyEpoch(long epoch) {
      if (epoch < 0 || epoch > 0xFFFFFFFFL) throw new IllegalArgumentException("keyEpoch must fit in 32 bits");
      keyEpoch = epoch;
      return this;
    }

    public Builder deviceMode(DeviceMode mode) {
      deviceMode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    public Builder durability(Durability d) {
      durability = Objects.requireNonNull(d, "durability");
      return this;
    }

    /** COPPA: advertising can never be granted, no persistent device or cookie ids. */
    public Builder childMode(boolean enabled) {
      childMode = enabled;
      return this;
    }

    /** ISO 3166 region ("GB", "US") for phone numbers written without '+'. */
    public Builder defaultRegion(String region) {
      defaultRegion = Objects.requireNonNull(region, "region");
      return this;
    }

    /** Uploads to this collector ({@code http://} or {@code https://} URL of its batches endpoint). */
    public Builder collector(String url) {
      collectorUrl = Objects.requireNonNull(url, "url");
      return this;
    }

    /** A collector Ed25519 public key (32 bytes) by key id; the highest id seals. */
    public Builder collectorKey(int keyId, byte[] publicKey) {
      keyIds.add(keyId);
      keys.add(Objects.requireNonNull(publicKey, "publicKey").clone());
      return this;
    }

    /** Backoff from baseMs up to capMs; connect and I/O deadlines of the built-in transport. */
    public Builder retryPolicy(long baseMs, long capMs, long connectTimeoutMs, long ioTimeoutMs) {
      retryPolicy = new long[] {baseMs, capMs, connectTimeoutMs, ioTimeoutMs};
      return this;
    }

    /** Keys in the host's key store instead of files under the store directory. */
    public Builder keyStore(KeyStore store) {
      keyStore = Objects.requireNonNull(store, "store");
      return this;
    }

    public Options build() {
      return new Options(this);
    }
  }
}
