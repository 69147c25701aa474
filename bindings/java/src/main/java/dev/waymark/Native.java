package dev.waymark;

/** The JNI glue (waymark_jni.c): each method calls the C ABI and returns its status; nothing else. */
final class Native {
  static {
    String path = System.getProperty("waymark.jni.library");
    if (path != null) {
      System.load(path);
    } else {
      System.loadLibrary("waymark_jni");
    }
  }

  private Native() {}

  static native String version();

  static native String lastErrorMessage();

  /** out[0] = client handle, out[1] = platform context (0 without a KeyStore); returns the status. */
  static native int open(byte[] storePath, byte[] appId, byte[] brandKey, long keyEpoch, int deviceMode,
      int durability, boolean childMode, byte[] defaultRegion, byte[] collectorUrl, int[] keyIds, byte[][] keys,
      long[] retryPolicy, KeyStore keyStore, long[] out);

  static native int close(long client);

  static native void free(long client, long platformContext);

  static native int eventNew(int type, byte[] name, int channel, int purpose, byte[][] propertyKeys,
      int[] propertyKinds, byte[][] stringValues, long[] longValues, double[] doubleValues, int revenueKind,
      long revenueMinor, double revenueDecimal, byte[] currency, byte[][] campaign, long[] out);

  static native void eventFree(long event);

  static native int record(long client, long event);

  static native int recordBatch(long client, long[] events, int[] statuses);

  static native int identify(long client, int kind, byte[] value);

  static native int identifyVerified(long client, int kind, byte[] value, byte[] assertion);

  static native int deviceKey(long client, byte[] out);

  static native int forgetWithToken(long client, byte[] token);

  static native int setConsent(long client, int purpose, boolean granted, byte[] policyVersion);

  /** out[0] = 1 when granted. */
  static native int getConsent(long client, int purpose, int[] out);

  static native int beginCustomer(long client);

  static native int endCustomer(long client);

  static native int forget(long client);

  static native int flush(long client, long timeoutMs);

  static native int stat(long client, int stat, long[] out);
}
