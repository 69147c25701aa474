package dev.waymark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java API over the C ABI: what it returns, and that bad input is a clean Java error. */
class ClientTest {
  static final byte[] BRAND_KEY = new byte[32];

  static {
    for (int i = 0; i < 32; ++i) BRAND_KEY[i] = (byte) (i + 1);
  }

  @TempDir Path dir;

  Options.Builder options() {
    return Options.builder(dir.resolve("store").toString(), "java-test", BRAND_KEY).defaultRegion("GB");
  }

  static void assertStatus(Status expected, Runnable call) {
    WaymarkException e = assertThrows(WaymarkException.class, call::run);
    assertEquals(expected, e.status());
    assertTrue(e.getMessage().startsWith(expected.name() + ": "), e.getMessage());
  }

  @Test
  void recordBatchGivesAStatusPerEventAndStoresNothingOnError() throws Exception {
    try (Client c = Client.open(options().build())) {
      c.setConsent(Purpose.ANALYTICS, true, "2026-01");
      Event line = Event.builder(EventType.TRACK, "line").build();
      Event ad = Event.builder(EventType.TRACK, "ad").purpose(Purpose.ADVERTISING).build();
      assertEquals(List.of(Status.OK, Status.DROPPED_NO_CONSENT), c.recordBatch(List.of(line, ad)));
      assertStatus(Status.ERR_INVALID_ARGUMENT, () -> c.recordBatch(List.of()));
      assertStatus(Status.ERR_TOO_LARGE, () -> c.recordBatch(Collections.nCopies(1001, line)));
      c.flush(5000);
      assertEquals(2, c.stat(Stat.QUEUED)); // consent and the one consented line
    }
  }

  @Test
  void recordIdentifyConsentStatsAndAsyncFlush() throws Exception {
    try (Client c = Client.open(options().build())) {
      assertFalse(c.recovered());
      assertEquals(Status.DROPPED_NO_CONSENT, c.record(Event.builder(EventType.TRACK, "before consent").build()));
      assertEquals(Status.OK, c.setConsent(Purpose.ANALYTICS, true, "2026-01"));
      assertTrue(c.consent(Purpose.ANALYTICS));
      assertFalse(c.consent(Purpose.ADVERTISING));
      assertEquals(Status.OK, c.identify(IdKind.EMAIL, "Jane.Doe@example.com"));
      Event order =
          Event.builder(EventType.PURCHASE, "order")
              .channel(Channel.POS)
              .property("sku", "A-1")
              .property("qty", 2L)
              .property("price", 9.99)
              .property("gift", true)
              .revenue(1999, "GBP")
              .campaign("newsletter", "email", null, null)
              .build();
      assertEquals(Status.OK, c.record(order));
      assertEquals(Status.OK, c.record(Event.builder(EventType.CUSTOM, "tip").revenueDecimal(1.5, "EUR").build()));
      c.flushAsync(5000).get(10, TimeUnit.SECONDS);
      assertEquals(4, c.stat(Stat.QUEUED));
      assertEquals(1, c.stat(Stat.REFUSED));
    }
    try (Stream<Path> files = Files.walk(dir)) { // privacy: no raw identifier in anything written
      for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        String text = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1).toLowerCase();
        assertFalse(text.contains("jane.doe"), p.toString());
      }
    }
  }

  @Test
  void verifiedIdentityAndErasureTokens() {
    try (Client c = Client.open(options().build())) {
      c.setConsent(Purpose.ANALYTICS, true, "1");
      byte[] key = c.deviceKey();
      assertEquals(32, key.length);
      assertArrayEquals(key, c.deviceKey());
      assertEquals(Status.OK, c.identifyVerified(IdKind.ACCOUNT_ID, "A-1001", new byte[] {1, 2, 3}));
      assertStatus(Status.ERR_INVALID_ARGUMENT, () -> c.identifyVerified(IdKind.ACCOUNT_ID, "A-1001", new byte[0]));
      assertThrows(NullPointerException.class, () -> c.identifyVerified(IdKind.ACCOUNT_ID, "A-1001", null));
      assertStatus(Status.ERR_INVALID_ARGUMENT, () -> c.forget(new byte[8193]));
      c.forget(new byte[] {7, 7});
    }
  }

  @Test
  void libraryErrorsCarryTheirStatus() {
    try (Client c = Client.open(options().build())) {
      c.setConsent(Purpose.ANALYTICS, true, "1");
      assertStatus(Status.ERR_JUNK_IDENTIFIER, () -> c.identify(IdKind.EMAIL, "test@test.com"));
      assertStatus(
          Status.ERR_UNKNOWN_CURRENCY,
          () -> c.record(Event.builder(EventType.PURCHASE, "o").revenue(1, "XYZ").build()));
      assertStatus(Status.ERR_INVALID_ARGUMENT, c::beginCustomer);
      assertStatus(Status.ERR_TOO_LARGE, () -> c.record(Event.builder(EventType.TRACK, "n".repeat(257)).build()));
    }
  }

  @Test
  void invalidUtf8IsRefusedByTheLibrary() {
    try (Client c = Client.open(options().build())) {
      c.setConsent(Purpose.ANALYTICS, true, "1");
      byte[] bad = {(byte) 0xff, (byte) 0xfe};
      assertStatus(Status.ERR_INVALID_UTF8, () -> c.record(Event.builder(EventType.TRACK, bad).build()));
      assertStatus(Status.ERR_INVALID_UTF8, () -> c.identify(IdKind.EMAIL, new byte[] {0x6a, (byte) 0xc3, 0x28}));
      assertStatus(
          Status.ERR_INVALID_UTF8,
          () -> c.record(Event.builder(EventType.TRACK, "ok").property("k", new byte[] {(byte) 0xc0, (byte) 0xaf}).build()));
      assertEquals(1, c.stat(Stat.QUEUED));
    }
  }

  @Test
  void nullsAreNullPointerExceptions() {
    try (Client c = Client.open(options().build())) {
      assertThrows(NullPointerException.class, () -> c.record(null));
      assertThrows(NullPointerException.class, () -> c.identify(IdKind.EMAIL, (String) null));
      assertThrows(NullPointerException.class, () -> c.identify(null, "a@b.example"));
      assertThrows(NullPointerException.class, () -> c.stat(null));
      assertThrows(NullPointerException.class, () -> Event.builder(null, "x"));
      assertThrows(NullPointerException.class, () -> Event.builder(EventType.TRACK, (String) null));
      assertThrows(NullPointerException.class, () -> Event.builder(EventType.TRACK, "x").property("k", (String) null));
      assertThrows(IllegalArgumentException.class, () -> options().keyEpoch(-1));
    }
    assertThrows(NullPointerException.class, () -> Client.open(null));
    assertThrows(NullPointerException.class, () -> Options.builder(null, "x", BRAND_KEY));
  }

  @Test
  void badOptionsAreLibraryErrors() {
    assertStatus(Status.ERR_INVALID_ARGUMENT, () -> Client.open(Options.builder(dir.toString(), "x", new byte[5]).build()));
    assertStatus(Status.ERR_STORE_IO, () -> Client.open(Options.builder("/proc/waymark-no-dir", "x", BRAND_KEY).build()));
    assertStatus(Status.ERR_INVALID_ARGUMENT, () -> Client.open(options().collector("ftp://example.com/").build()));
  }

  @Test
  void closedClientAnswersErrClosed() throws Exception {
    Client c = Client.open(options().build());
    c.close();
    c.close();
    assertStatus(Status.ERR_CLOSED, () -> c.record(Event.builder(EventType.TRACK, "late").build()));
    assertStatus(Status.ERR_CLOSED, () -> c.flush(10));
    java.util.concurrent.ExecutionException e =
        assertThrows(java.util.concurrent.ExecutionException.class, () -> c.flushAsync(10).get());
    assertEquals(Status.ERR_CLOSED, ((WaymarkException) e.getCause()).status());
  }

  /** A map standing in for the Android Keystore. */
  static final class MapKeyStore implements KeyStore {
    final Map<String, byte[]> keys = new ConcurrentHashMap<>();

    @Override
    public byte[] get(String scope, String name) {
      byte[] k = keys.get(scope + "/" + name);
      return k == null ? null : k.clone();
    }

    @Override
    public void put(String scope, String name, byte[] key) {
      keys.put(scope + "/" + name, key.clone());
    }

    @Override
    public void delete(String scope, String name) {
      keys.remove(scope + "/" + name);
    }
  }

  @Test
  void hostKeyStoreHoldsTheKeys() throws IOException {
    MapKeyStore store = new MapKeyStore();
    try (Client c = Client.open(options().keyStore(store).build())) {
      c.setConsent(Purpose.ANALYTICS, true, "1");
      assertEquals(Status.OK, c.record(Event.builder(EventType.TRACK, "kept").build()));
    }
    assertFalse(store.keys.isEmpty());
    Map<String, byte[]> before = new java.util.HashMap<>();
    store.keys.forEach((k, v) -> before.put(k, v.clone()));
    try (Stream<Path> files = Files.walk(dir)) {
      assertFalse(files.anyMatch(p -> p.toString().contains("/keys/")), "no key files beside the store");
    }
    try (Client c = Client.open(options().keyStore(store).build())) { // the same keys open the same rows
      assertEquals(2, c.stat(Stat.QUEUED));
      assertEquals(0, c.stat(Stat.UNREADABLE));
    }
    assertEquals(before.keySet(), store.keys.keySet()); // no new keys: the stored ones were read back
    before.forEach((k, v) -> assertArrayEquals(v, store.keys.get(k)));
  }

  @Test
  void failingKeyStoreIsAKeystoreError() {
    KeyStore broken =
        new KeyStore() {
          @Override
          public byte[] get(String scope, String name) throws Exception {
            throw new java.io.IOException("keystore locked");
          }

          @Override
          public void put(String scope, String name, byte[] key) throws Exception {
            throw new java.io.IOException("keystore locked");
          }

          @Override
          public void delete(String scope, String name) {}
        };
    assertStatus(Status.ERR_KEYSTORE, () -> Client.open(options().keyStore(broken).build()));
  }

  @Test
  void version() {
    assertTrue(Client.version().matches("\\d+\\.\\d+\\.\\d+.*"));
  }
}
