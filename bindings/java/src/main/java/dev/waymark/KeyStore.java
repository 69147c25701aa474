package dev.waymark;

/**
 * Where the SDK keeps its keys (device signing key, data key), when the host has a better place than
 * the default 0600 files under the store directory: the Android Keystore, an HSM, a TPM. Plugged into
 * the C ABI's platform table. Called from SDK threads, concurrently: implementations must be
 * thread-safe and must not call the SDK. {@code scope} is the client's store directory; keys are secrets,
 * never log them.
 */
public interface KeyStore {
  /** The key, or null when there is none. */
  byte[] get(String scope, String name) throws Exception;

  /** Stores the key atomically, replacing any earlier one. */
  void put(String scope, String name, byte[] key) throws Exception;

  /** Deletes the key; a missing key is not an error. */
  void delete(String scope, String name) throws Exception;
}
