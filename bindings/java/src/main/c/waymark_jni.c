/*
 * JNI glue for dev.waymark.Native: each function copies its Java arguments, calls the public C ABI and
 * returns the status; the Java layer turns errors into WaymarkException. A host KeyStore is plugged into
 * the platform table (the POSIX table's clocks, randomness and logging, the host's key storage); its
 * callbacks run on SDK threads, which are attached to the JVM as daemons and detached when they end.
 */
#include <jni.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "waymark/platform.h"
#include "waymark/waymark.h"

static JavaVM* g_vm;
static pthread_key_t g_detach_key;

static void detach_thread(void* unused) {
  (void)unused;
  (*g_vm)->DetachCurrentThread(g_vm);
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM* vm, void* reserved) {
  (void)reserved;
  g_vm = vm;
  if (pthread_key_create(&g_detach_key, detach_thread) != 0) return JNI_ERR;
  return JNI_VERSION_1_8;
}

/* The env of the calling thread, attaching an SDK thread on its first upcall. */
static JNIEnv* thread_env(void) {
  JNIEnv* env = NULL;
  if ((*g_vm)->GetEnv(g_vm, (void**)&env, JNI_VERSION_1_8) == JNI_OK) return env;
  if ((*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void**)&env, NULL) != JNI_OK) return NULL;
  pthread_setspecific(g_detach_key, env); /* non-NULL: the destructor runs when the thread ends */
  return env;
}

/* ------------------------------------------------------------------ byte arrays */

typedef struct {
  char* data;
  size_t len;
} Bytes;

/* A copy of a byte[] (NULL array -> {NULL, 0}); false when out of memory (an exception is pending). */
static int bytes_of(JNIEnv* env, jbyteArray a, Bytes* out) {
  out->data = NULL;
  out->len = 0;
  if (a == NULL) return 1;
  const jsize n = (*env)->GetArrayLength(env, a);
  out->data = malloc((size_t)n + 1);
  if (out->data == NULL) {
    (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/OutOfMemoryError"), "waymark");
    return 0;
  }
  (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte*)out->data);
  out->data[n] = '\0';
  out->len = (size_t)n;
  return 1;
}

static void wipe(Bytes* b) {
  if (b->data != NULL) memset(b->data, 0, b->len);
  free(b->data);
  b->data = NULL;
}

static jbyteArray element(JNIEnv* env, jobjectArray a, jsize i) {
  return (jbyteArray)(*env)->GetObjectArrayElement(env, a, i);
}

/* ------------------------------------------------------------------ host key store */

typedef struct {
  waymark_platform_t table;
  jobject store; /* global ref to the dev.waymark.KeyStore */
  jmethodID get, put, del;
} HostPlatform;

static int32_t upcall_failed(JNIEnv* env) {
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionClear(env); /* the SDK reports KEYSTORE; the Java exception cannot cross C */
    return 1;
  }
  return 0;
}

static int32_t ks_get(const char* scope, const char* name, uint8_t* out, size_t capacity, size_t* out_len, void* ud) {
  HostPlatform* p = ud;
  JNIEnv* env = thread_env();
  if (env == NULL) return WAYMARK_PLATFORM_ERROR;
  jstring s = (*env)->NewStringUTF(env, scope), n = (*env)->NewStringUTF(env, name);
  jbyteArray key = (*env)->CallObjectMethod(env, p->store, p->get, s, n);
  int32_t rc = WAYMARK_PLATFORM_ERROR;
  if (upcall_failed(env)) {
    rc = WAYMARK_PLATFORM_ERROR;
  } else if (key == NULL) {
    rc = WAYMARK_PLATFORM_NOT_FOUND;
  } else {
    const jsize len = (*env)->GetArrayLength(env, key);
    *out_len = (size_t)len;
    if ((size_t)len <= capacity) {
      (*env)->GetByteArrayRegion(env, key, 0, len, (jbyte*)out);
      rc = WAYMARK_PLATFORM_OK;
    }
    (*env)->DeleteLocalRef(env, key);
  }
  (*env)->DeleteLocalRef(env, s);
  (*env)->DeleteLocalRef(env, n);
  return rc;
}

static int32_t ks_put(const char* scope, const char* name, const uint8_t* key, size_t len, void* ud) {
  HostPlatform* p = ud;
  JNIEnv* env = thread_env();
  if (env == NULL) return WAYMARK_PLATFORM_ERROR;
  jstring s = (*env)->NewStringUTF(env, scope), n = (*env)->NewStringUTF(env, name);
  jbyteArray k = (*env)->NewByteArray(env, (jsize)len);
  if (k != NULL) {
    (*env)->SetByteArrayRegion(env, k, 0, (jsize)len, (const jbyte*)key);
    (*env)->CallVoidMethod(env, p->store, p->put, s, n, k);
  }
  const int32_t rc = k == NULL || upcall_failed(env) ? WAYMARK_PLATFORM_ERROR : WAYMARK_PLATFORM_OK;
  (*env)->DeleteLocalRef(env, k);
  (*env)->DeleteLocalRef(env, s);
  (*env)->DeleteLocalRef(env, n);
  return rc;
}

static int32_t ks_delete(const char* scope, const char* name, void* ud) {
  HostPlatform* p = ud;
  JNIEnv* env = thread_env();
  if (env == NULL) return WAYMARK_PLATFORM_ERROR;
  jstring s = (*env)->NewStringUTF(env, scope), n = (*env)->NewStringUTF(env, name);
  (*env)->CallVoidMethod(env, p->store, p->del, s, n);
  const int32_t rc = upcall_failed(env) ? WAYMARK_PLATFORM_ERROR : WAYMARK_PLATFORM_OK;
  (*env)->DeleteLocalRef(env, s);
  (*env)->DeleteLocalRef(env, n);
  return rc;
}

static HostPlatform* host_platform(JNIEnv* env, jobject store) {
  HostPlatform* p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  waymark_platform_posix(&p->table);
  jclass cls = (*env)->FindClass(env, "dev/waymark/KeyStore");
  p->get = (*env)->GetMethodID(env, cls, "get", "(Ljava/lang/String;Ljava/lang/String;)[B");
  p->put = (*env)->GetMethodID(env, cls, "put", "(Ljava/lang/String;Ljava/lang/String;[B)V");
  p->del = (*env)->GetMethodID(env, cls, "delete", "(Ljava/lang/String;Ljava/lang/String;)V");
  p->store = (*env)->NewGlobalRef(env, store);
  p->table.keystore_get = ks_get;
  p->table.keystore_put = ks_put;
  p->table.keystore_delete = ks_delete;
  p->table.user_data = p;
  return p;
}

static void free_platform(JNIEnv* env, HostPlatform* p) {
  if (p == NULL) return;
  (*env)->DeleteGlobalRef(env, p->store);
  free(p);
}

/* ------------------------------------------------------------------ natives */

#define CLIENT(h) ((waymark_client_t*)(intptr_t)(h))

JNIEXPORT jstring JNICALL Java_dev_waymark_Native_version(JNIEnv* env, jclass cls) {
  (void)cls;
  return (*env)->NewStringUTF(env, waymark_version());
}

JNIEXPORT jstring JNICALL Java_dev_waymark_Native_lastErrorMessage(JNIEnv* env, jclass cls) {
  (void)cls;
  return (*env)->NewStringUTF(env, waymark_last_error_message());
}

typedef waymark_status_t (*bytes_setter)(waymark_options_t*, const char*, size_t);

static waymark_status_t set_bytes(JNIEnv* env, waymark_options_t* o, jbyteArray a, bytes_setter setter) {
  Bytes b;
  if (a == NULL) return WAYMARK_OK;
  if (!bytes_of(env, a, &b)) return WAYMARK_ERR_NO_MEMORY;
  const waymark_status_t s = setter(o, b.data, b.len);
  wipe(&b);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_open(JNIEnv* env, jclass cls, jbyteArray store_path, jbyteArray app_id,
                                                    jbyteArray brand_key, jlong key_epoch, jint device_mode,
                                                    jint durability, jboolean child_mode, jbyteArray default_region,
                                                    jbyteArray collector_url, jintArray key_ids, jobjectArray keys,
                                                    jlongArray retry, jobject key_store, jlongArray out) {
  (void)cls;
  waymark_options_t* o = NULL;
  waymark_status_t s = waymark_options_new(&o);
  HostPlatform* platform = NULL;
  if (s == WAYMARK_OK) s = set_bytes(env, o, store_path, waymark_options_set_store_path);
  if (s == WAYMARK_OK) s = set_bytes(env, o, app_id, waymark_options_set_app_id);
  if (s == WAYMARK_OK) s = set_bytes(env, o, default_region, waymark_options_set_default_region);
  if (s == WAYMARK_OK) s = set_bytes(env, o, collector_url, waymark_options_set_collector_url);
  if (s == WAYMARK_OK) {
    Bytes k;
    s = bytes_of(env, brand_key, &k)
            ? waymark_options_set_brand_key(o, (const uint8_t*)k.data, k.len, (uint32_t)key_epoch)
            : WAYMARK_ERR_NO_MEMORY;
    wipe(&k);
  }
  if (s == WAYMARK_OK) s = waymark_options_set_device_mode(o, (waymark_device_mode_t)device_mode);
  if (s == WAYMARK_OK) s = waymark_options_set_durability(o, (waymark_durability_t)durability);
  if (s == WAYMARK_OK) s = waymark_options_set_child_mode(o, child_mode ? 1 : 0);
  const jsize nkeys = key_ids == NULL ? 0 : (*env)->GetArrayLength(env, key_ids);
  for (jsize i = 0; s == WAYMARK_OK && i < nkeys; ++i) {
    jint id = 0;
    Bytes k;
    (*env)->GetIntArrayRegion(env, key_ids, i, 1, &id);
    s = bytes_of(env, element(env, keys, i), &k)
            ? waymark_options_add_collector_key(o, (const uint8_t*)k.data, k.len, (uint32_t)id)
            : WAYMARK_ERR_NO_MEMORY;
    free(k.data);
  }
  if (s == WAYMARK_OK && retry != NULL) {
    jlong r[4] = {0, 0, 0, 0};
    (*env)->GetLongArrayRegion(env, retry, 0, 4, r);
    s = waymark_options_set_retry_policy(o, r[0], r[1], r[2], r[3]);
  }
  if (s == WAYMARK_OK && key_store != NULL) {
    platform = host_platform(env, key_store);
    s = platform == NULL ? WAYMARK_ERR_NO_MEMORY : waymark_options_set_platform(o, &platform->table);
  }
  if (s != WAYMARK_OK) {
    waymark_options_free(o);
    free_platform(env, platform);
    return s;
  }
  waymark_client_t* c = NULL;
  s = waymark_client_open(o, &c); /* takes the options */
  if (s < 0) {
    free_platform(env, platform);
    return s;
  }
  const jlong handles[2] = {(jlong)(intptr_t)c, (jlong)(intptr_t)platform};
  (*env)->SetLongArrayRegion(env, out, 0, 2, handles);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_close(JNIEnv* env, jclass cls, jlong h) {
  (void)env;
  (void)cls;
  return waymark_client_close(CLIENT(h));
}

JNIEXPORT void JNICALL Java_dev_waymark_Native_free(JNIEnv* env, jclass cls, jlong h, jlong platform) {
  (void)cls;
  waymark_client_free(CLIENT(h)); /* stops the SDK's threads: no upcall can follow */
  free_platform(env, (HostPlatform*)(intptr_t)platform);
}

/* Builds a native event from the Java Event's fields; out[0] receives the handle (free with eventFree). */
JNIEXPORT jint JNICALL Java_dev_waymark_Native_eventNew(JNIEnv* env, jclass cls, jint type, jbyteArray name,
                                                        jint channel, jint purpose, jobjectArray keys, jintArray kinds,
                                                        jobjectArray strings, jlongArray longs, jdoubleArray doubles,
                                                        jint revenue_kind, jlong revenue_minor, jdouble revenue_decimal,
                                                        jbyteArray currency, jobjectArray campaign, jlongArray out) {
  (void)cls;
  Bytes n;
  if (!bytes_of(env, name, &n)) return WAYMARK_ERR_NO_MEMORY;
  waymark_event_t* e = NULL;
  waymark_status_t s = waymark_event_new((waymark_event_type_t)type, n.data, n.len, &e);
  free(n.data);
  if (s != WAYMARK_OK) return s;
  if (channel >= 0) s = waymark_event_set_channel(e, (waymark_channel_t)channel);
  if (s == WAYMARK_OK && purpose >= 0) s = waymark_event_set_purpose(e, (waymark_purpose_t)purpose);
  const jsize nprops = (*env)->GetArrayLength(env, kinds);
  for (jsize i = 0; s == WAYMARK_OK && i < nprops; ++i) {
    jint kind = 0;
    jlong l = 0;
    jdouble d = 0;
    Bytes k, v = {NULL, 0};
    (*env)->GetIntArrayRegion(env, kinds, i, 1, &kind);
    (*env)->GetLongArrayRegion(env, longs, i, 1, &l);
    (*env)->GetDoubleArrayRegion(env, doubles, i, 1, &d);
    if (!bytes_of(env, element(env, keys, i), &k) || (kind == 0 && !bytes_of(env, element(env, strings, i), &v))) {
      free(k.data);
      waymark_event_free(e);
      return WAYMARK_ERR_NO_MEMORY;
    }
    switch (kind) {
      case 0: s = waymark_event_set_string(e, k.data, k.len, v.data, v.len); break;
      case 1: s = waymark_event_set_int(e, k.data, k.len, l); break;
      case 2: s = waymark_event_set_double(e, k.data, k.len, d); break;
      default: s = waymark_event_set_bool(e, k.data, k.len, l != 0); break;
    }
    free(k.data);
    free(v.data);
  }
  if (s == WAYMARK_OK && revenue_kind != 0) {
    Bytes c;
    if (!bytes_of(env, currency, &c)) {
      waymark_event_free(e);
      return WAYMARK_ERR_NO_MEMORY;
    }
    s = revenue_kind == 1 ? waymark_event_set_revenue(e, revenue_minor, c.data, c.len)
                          : waymark_event_set_revenue_decimal(e, revenue_decimal, c.data, c.len);
    free(c.data);
  }
  if (s == WAYMARK_OK && campaign != NULL) {
    Bytes parts[4];
    int ok = 1;
    for (int i = 0; i < 4; ++i) ok = bytes_of(env, element(env, campaign, i), &parts[i]) && ok;
    s = ok ? waymark_event_set_campaign(e, parts[0].data, parts[0].len, parts[1].data, parts[1].len, parts[2].data,
                                        parts[2].len, parts[3].data, parts[3].len)
           : WAYMARK_ERR_NO_MEMORY;
    for (int i = 0; i < 4; ++i) free(parts[i].data);
  }
  if (s != WAYMARK_OK) {
    waymark_event_free(e);
    return s;
  }
  const jlong handle = (jlong)(intptr_t)e;
  (*env)->SetLongArrayRegion(env, out, 0, 1, &handle);
  return WAYMARK_OK;
}

JNIEXPORT void JNICALL Java_dev_waymark_Native_eventFree(JNIEnv* env, jclass cls, jlong e) {
  (void)env;
  (void)cls;
  waymark_event_free((waymark_event_t*)(intptr_t)e);
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_record(JNIEnv* env, jclass cls, jlong h, jlong e) {
  (void)env;
  (void)cls;
  return waymark_client_record(CLIENT(h), (const waymark_event_t*)(intptr_t)e);
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_recordBatch(JNIEnv* env, jclass cls, jlong h, jlongArray events,
                                                           jintArray statuses) {
  (void)cls;
  const jsize n = (*env)->GetArrayLength(env, events);
  jlong* handles = malloc(sizeof *handles * (size_t)(n > 0 ? n : 1));
  const waymark_event_t** list = malloc(sizeof *list * (size_t)(n > 0 ? n : 1));
  waymark_status_t* out = malloc(sizeof *out * (size_t)(n > 0 ? n : 1));
  waymark_status_t s = WAYMARK_ERR_NO_MEMORY;
  if (handles != NULL && list != NULL && out != NULL) {
    (*env)->GetLongArrayRegion(env, events, 0, n, handles);
    for (jsize i = 0; i < n; ++i) list[i] = (const waymark_event_t*)(intptr_t)handles[i];
    s = waymark_client_record_batch(CLIENT(h), list, (size_t)n, out);
    for (jsize i = 0; i < n; ++i) {
      const jint v = out[i];
      (*env)->SetIntArrayRegion(env, statuses, i, 1, &v);
    }
  }
  free(handles);
  free(list);
  free(out);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_identify(JNIEnv* env, jclass cls, jlong h, jint kind, jbyteArray value) {
  (void)cls;
  Bytes v;
  if (!bytes_of(env, value, &v)) return WAYMARK_ERR_NO_MEMORY;
  const waymark_status_t s = waymark_client_identify(CLIENT(h), (waymark_id_kind_t)kind, v.data, v.len);
  wipe(&v);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_identifyVerified(JNIEnv* env, jclass cls, jlong h, jint kind,
                                                                jbyteArray value, jbyteArray assertion) {
  (void)cls;
  Bytes v, a;
  if (!bytes_of(env, value, &v)) return WAYMARK_ERR_NO_MEMORY;
  if (!bytes_of(env, assertion, &a)) {
    wipe(&v);
    return WAYMARK_ERR_NO_MEMORY;
  }
  const waymark_status_t s = waymark_client_identify_verified(CLIENT(h), (waymark_id_kind_t)kind, v.data, v.len,
                                                              (const uint8_t*)a.data, a.len);
  wipe(&v);
  free(a.data);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_deviceKey(JNIEnv* env, jclass cls, jlong h, jbyteArray out) {
  (void)cls;
  uint8_t key[32];
  const waymark_status_t s = waymark_client_device_key(CLIENT(h), key, sizeof key);
  if (s == WAYMARK_OK) (*env)->SetByteArrayRegion(env, out, 0, 32, (const jbyte*)key);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_forgetWithToken(JNIEnv* env, jclass cls, jlong h, jbyteArray token) {
  (void)cls;
  Bytes t;
  if (!bytes_of(env, token, &t)) return WAYMARK_ERR_NO_MEMORY;
  const waymark_status_t s = waymark_client_forget_with_token(CLIENT(h), (const uint8_t*)t.data, t.len);
  free(t.data);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_setConsent(JNIEnv* env, jclass cls, jlong h, jint purpose,
                                                          jboolean granted, jbyteArray policy) {
  (void)cls;
  Bytes p;
  if (!bytes_of(env, policy, &p)) return WAYMARK_ERR_NO_MEMORY;
  const waymark_status_t s =
      waymark_client_set_consent(CLIENT(h), (waymark_purpose_t)purpose, granted ? 1 : 0, p.data, p.len);
  free(p.data);
  return s;
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_getConsent(JNIEnv* env, jclass cls, jlong h, jint purpose,
                                                          jintArray out) {
  (void)cls;
  int granted = 0;
  const waymark_status_t s = waymark_client_get_consent(CLIENT(h), (waymark_purpose_t)purpose, &granted);
  const jint v = granted;
  (*env)->SetIntArrayRegion(env, out, 0, 1, &v);
  return s;
}

#define SIMPLE(java_name, call)                                                                  \
  JNIEXPORT jint JNICALL Java_dev_waymark_Native_##java_name(JNIEnv* env, jclass cls, jlong h) { \
    (void)env;                                                                                   \
    (void)cls;                                                                                   \
    return call(CLIENT(h));                                                                      \
  }
SIMPLE(beginCustomer, waymark_client_begin_customer)
SIMPLE(endCustomer, waymark_client_end_customer)
SIMPLE(forget, waymark_client_forget)

JNIEXPORT jint JNICALL Java_dev_waymark_Native_flush(JNIEnv* env, jclass cls, jlong h, jlong timeout_ms) {
  (void)env;
  (void)cls;
  return waymark_client_flush(CLIENT(h), timeout_ms);
}

JNIEXPORT jint JNICALL Java_dev_waymark_Native_stat(JNIEnv* env, jclass cls, jlong h, jint stat, jlongArray out) {
  (void)cls;
  int64_t v = 0;
  const waymark_status_t s = waymark_client_stat(CLIENT(h), (waymark_stat_t)stat, &v);
  const jlong j = v;
  (*env)->SetLongArrayRegion(env, out, 0, 1, &j);
  return s;
}
