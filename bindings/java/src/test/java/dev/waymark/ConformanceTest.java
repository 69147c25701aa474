package dev.waymark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * tests/conformance/cases.json through the Java API: the same statuses as the C ABI reference runner.
 * System properties: waymark.conformance.cases (the file), waymark.collector (the waymark-collector
 * executable, for the cases that upload).
 */
class ConformanceTest {
  static final byte[] BRAND_KEY = new byte[32];

  static {
    byte[] head = {0x57, 0x61, 0x79, 0x6d, 0x61, 0x72, 0x6b, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    System.arraycopy(head, 0, BRAND_KEY, 0, head.length);
  }

  /** Enough JSON for the case file: objects, arrays, strings, numbers, booleans, null. */
  static final class Json {
    private final String s;
    private int i;

    Json(String s) {
      this.s = s;
    }

    Object value() {
      skip();
      char c = s.charAt(i);
      if (c == '{') {
        Map<String, Object> m = new LinkedHashMap<>();
        ++i;
        for (skip(); s.charAt(i) != '}'; skip()) {
          String k = string();
          skip();
          expect(':');
          m.put(k, value());
          skip();
          if (s.charAt(i) == ',') ++i;
        }
        ++i;
        return m;
      }
      if (c == '[') {
        List<Object> a = new ArrayList<>();
        ++i;
        for (skip(); s.charAt(i) != ']'; skip()) {
          a.add(value());
          skip();
          if (s.charAt(i) == ',') ++i;
        }
        ++i;
        return a;
      }
      if (c == '"') return string();
      for (String word : new String[] {"true", "false", "null"}) {
        if (s.startsWith(word, i)) {
          i += word.length();
          return word.equals("null") ? null : Boolean.valueOf(word);
        }
      }
      int start = i;
      while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) ++i;
      String num = s.substring(start, i);
      return num.matches("-?\\d+") ? (Object) Long.valueOf(num) : (Object) Double.valueOf(num);
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      for (char c; (c = s.charAt(i++)) != '"'; ) {
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = s.charAt(i++);
        switch (e) {
          case 'n': b.append('\n'); break;
          case 't': b.append('\t'); break;
          case 'r': b.append('\r'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
          default: b.append(e);
        }
      }
      return b.toString();
    }

    private void expect(char c) {
      if (s.charAt(i++) != c) throw new IllegalArgumentException("expected " + c + " at " + (i - 1));
    }

    private void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) ++i;
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> obj(Object o) {
    return (Map<String, Object>) o;
  }

  /** A string of a case: text, {"hex"} (bytes that need not be UTF-8) or {"repeat", "count"}. */
  static byte[] text(Object spec) {
    if (spec instanceof String) return ((String) spec).getBytes(StandardCharsets.UTF_8);
    Map<String, Object> m = obj(spec);
    if (m.containsKey("hex")) {
      String hex = (String) m.get("hex");
      byte[] out = new byte[hex.length() / 2];
      for (int k = 0; k < out.length; ++k) out[k] = (byte) Integer.parseInt(hex.substring(2 * k, 2 * k + 2), 16);
      return out;
    }
    return ((String) m.get("repeat")).repeat(((Long) m.get("count")).intValue()).getBytes(StandardCharsets.UTF_8);
  }

  static <E extends Enum<E>> E named(Class<E> cls, Object name) {
    return Enum.valueOf(cls, ((String) name).toUpperCase(Locale.ROOT));
  }

  /** The real waymark-collector on 127.0.0.1. */
  static final class Collector {
    final Process process;
    final int port;
    final byte[] publicKey = new byte[32];

    Collector(String binary, Path dir) throws Exception {
      Process keys = new ProcessBuilder(binary, "keys", "generate", "--data-dir", dir.toString(), "--key-id", "1").start();
      String out = new String(keys.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(0, keys.waitFor());
      Matcher m = Pattern.compile("public_key=([0-9a-f]{64})").matcher(out);
      assertTrue(m.find(), out);
      for (int k = 0; k < 32; ++k) publicKey[k] = (byte) Integer.parseInt(m.group(1).substring(2 * k, 2 * k + 2), 16);
      Path log = dir.resolve("collector.log");
      process =
          new ProcessBuilder(binary, "serve", "--data-dir", dir.toString(), "--port", "0")
              .redirectError(log.toFile())
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      Pattern listening = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
      for (int tries = 0; tries < 300; ++tries) {
        Matcher l = listening.matcher(Files.exists(log) ? Files.readString(log) : "");
        if (l.find()) {
          port = Integer.parseInt(l.group(1));
          return;
        }
        Thread.sleep(50);
      }
      process.destroy();
      throw new IllegalStateException("the collector did not start");
    }

    long events() throws Exception {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                  HttpResponse.BodyHandlers.ofString());
      Matcher m = Pattern.compile("(?m)^waymark_events_accepted_total (\\d+)$").matcher(r.body());
      return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
  }

  /** One case: a client, its stores, and the collector once a step uploads. */
  static final class Run {
    final Path dir;
    Client client;
    Collector collector;
    int stores;
    Path store;

    Run(Path dir) {
      this.dir = dir;
    }

    static void check(Map<String, Object> s, Object value) {
      if (s.containsKey("value")) assertEquals(s.get("value"), value, s.get("op") + ": value");
      if (s.containsKey("min")) assertTrue((Long) value >= (Long) s.get("min"), s.get("op") + ": " + value);
    }

    String step(Map<String, Object> s) throws Exception {
      try {
        return run(s).name();
      } catch (WaymarkException e) {
        return e.status().name();
      }
    }

    Status run(Map<String, Object> s) throws Exception {
      switch ((String) s.get("op")) {
        case "open": {
          if (!"same".equals(s.get("store"))) store = dir.resolve("store-" + (++stores));
          Options.Builder o =
              Options.builder(store.toString(), "conformance", BRAND_KEY)
                  .defaultRegion("GB")
                  .deviceMode("shared".equals(s.get("mode")) ? DeviceMode.SHARED : DeviceMode.PERSONAL)
                  .durability("durable".equals(s.get("durability")) ? Durability.DURABLE : Durability.ASYNC)
                  .childMode(Boolean.TRUE.equals(s.get("child_mode")));
          if (Boolean.TRUE.equals(s.get("upload"))) {
            if (collector == null) {
              String binary = System.getProperty("waymark.collector");
              assertNotNull(binary, "waymark.collector must name the waymark-collector executable");
              Files.createDirectories(dir.resolve("collector"));
              collector = new Collector(binary, dir.resolve("collector"));
            }
            o.collector("http://127.0.0.1:" + collector.port + "/v1/batches")
                .collectorKey(1, collector.publicKey)
                .retryPolicy(50, 500, 2000, 5000);
          }
          client = Client.open(o.build());
          return client.recovered() ? Status.STORE_RECOVERED : Status.OK;
        }
        case "close":
          client.close();
          return Status.OK;
        case "record":
          return client.record(event(obj(s.get("event"))));
        case "record_batch":
          {
            List<Event> events = new ArrayList<>();
            for (Object e : (List<?>) s.get("events")) events.add(event(obj(e)));
            List<Status> statuses = client.recordBatch(events);
            if (s.containsKey("statuses")) {
              List<String> names = new ArrayList<>();
              for (Status st : statuses) names.add(st.name());
              assertEquals(s.get("statuses"), names, "record_batch: statuses");
            }
            return statuses.contains(Status.DROPPED_NO_CONSENT) ? Status.DROPPED_NO_CONSENT : Status.OK;
          }
        case "identify":
          return client.identify(named(IdKind.class, s.get("kind")), text(s.get("value")));
        case "set_consent":
          return client.setConsent(named(Purpose.class, s.get("purpose")), (Boolean) s.get("granted"), "conformance-1");
        case "get_consent":
          check(s, client.consent(named(Purpose.class, s.get("purpose"))));
          return Status.OK;
        case "begin_customer":
          client.beginCustomer();
          return Status.OK;
        case "end_customer":
          client.endCustomer();
          return Status.OK;
        case "forget":
          client.forget();
          return Status.OK;
        case "flush":
          client.flush((Long) s.get("timeout_ms"));
          return Status.OK;
        case "stat":
          check(s, client.stat(named(Stat.class, s.get("stat"))));
          return Status.OK;
        case "collector_events":
          check(s, collector.events());
          return Status.OK;
        default:
          throw new IllegalArgumentException("unknown op " + s.get("op"));
      }
    }

    static Event event(Map<String, Object> e) {
      Event.Builder b = Event.builder(named(EventType.class, e.get("type")), text(e.get("name")));
      if (e.containsKey("channel")) b.channel(named(Channel.class, e.get("channel")));
      if (e.containsKey("purpose")) b.purpose(named(Purpose.class, e.get("purpose")));
      Object props = e.get("properties");
      if (props != null) {
        for (Map.Entry<String, Object> p : obj(props).entrySet()) {
          Object v = p.getValue();
          if (v instanceof Boolean) b.property(p.getKey(), (boolean) (Boolean) v);
          else if (v instanceof Long) b.property(p.getKey(), (long) (Long) v);
          else if (v instanceof Double) b.property(p.getKey(), (double) (Double) v);
          else b.property(p.getKey(), text(v));
        }
      }
      Object revenue = e.get("revenue");
      if (revenue != null) {
        Map<String, Object> r = obj(revenue);
        if (r.containsKey("minor")) b.revenue((Long) r.get("minor"), (String) r.get("currency"));
        else b.revenueDecimal(((Number) r.get("decimal")).doubleValue(), (String) r.get("currency"));
      }
      Object campaign = e.get("campaign");
      if (campaign != null) {
        Map<String, Object> c = obj(campaign);
        b.campaign((String) c.get("source"), (String) c.get("medium"), (String) c.get("name"), (String) c.get("content"));
      }
      return b.build();
    }

    void stop() throws InterruptedException {
      if (collector != null) {
        collector.process.destroy(); // SIGTERM: it commits, checkpoints and exits
        collector.process.waitFor();
      }
    }
  }

  @TestFactory
  Stream<DynamicTest> cases() throws IOException {
    String path = System.getProperty("waymark.conformance.cases", "../../tests/conformance/cases.json");
    Map<String, Object> doc;
    try (InputStream in = Files.newInputStream(Path.of(path))) {
      doc = obj(new Json(new String(in.readAllBytes(), StandardCharsets.UTF_8)).value());
    }
    assertEquals(1L, doc.get("format"));
    List<DynamicTest> tests = new ArrayList<>();
    for (Object c : (List<?>) doc.get("cases")) {
      Map<String, Object> kase = obj(c);
      tests.add(
          DynamicTest.dynamicTest(
              (String) kase.get("name"),
              () -> {
                Path dir = Files.createTempDirectory("waymark-java-conformance-");
                Run run = new Run(dir);
                try {
                  int index = 0;
                  for (Object step : (List<?>) kase.get("steps")) {
                    Map<String, Object> s = obj(step);
                    ++index;
                    assertEquals(s.getOrDefault("expect", "OK"), run.step(s), "step " + index + " (" + s.get("op") + ")");
                  }
                } finally {
                  run.stop();
                  try (Stream<Path> walk = Files.walk(dir)) {
                    walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                  }
                }
              }));
    }
    return tests.stream();
  }
}
