// A small libpcap binding on the plain Node-API C header, made for a capture loop that allocates
// nothing per packet in JavaScript.
//
// JavaScript hands over, once: a ring (Uint8Array/Buffer) that packets are copied into, a Uint32Array
// of per-packet metadata (META_FIELDS words per packet: offset in the ring, captured length, wire
// length, timestamp seconds, timestamp nanoseconds) and a Float64Array that stats() fills. The handle
// reads with pcap_dispatch on a non-blocking descriptor, woken by a uv_poll_t on
// pcap_get_selectable_fd (start()) or when JavaScript calls dispatch(). Packets are copied into the
// ring from offset 0 until the ring or the metadata is full or libpcap has nothing more; then ONE
// JavaScript callback is made per batch with the packet count (a small integer: no heap object), and
// the next batch starts at offset 0 again. The batch is only valid during that callback.
//
// Methods (all on a PcapHandle object):
//   open(device, snaplen, promisc, bufferSize, filter | null) -> LINKTYPE/DLT number
//   datalinkName() -> string ('EN10MB', ...)
//   setBuffers(ring, meta, stats) ; start(callback, coalesceMs) ; dispatch() -> packets read
//   stats() -> fills stats[0..2] with ps_recv, ps_drop, ps_ifdrop
//   inject(bytes, length) -> bytes sent ; close() (idempotent; safe inside the callback)
//   lastError() -> the error text of a failed batch (the callback then gets -1)
// And one function for capture files, readInto(fd, bytes, offset, length) -> bytes read, or -errno: a
// read(2) into a Uint8Array that puts nothing on the JavaScript heap, where fs.readSync allocates a few
// hundred bytes a call until V8 has optimised it (gre-decap/readers/byte-source.ts).
// And ReadAhead(fd), the same read done on a thread of its own while JavaScript parses what the last one
// read: start(bytes, offset, length) asks for it (the array is held referenced until it is answered, which
// keeps it alive but cannot stop JavaScript transferring its buffer: the caller must not), wait() blocks
// until the whole length is read or the file ends and gives what readInto would have (bytes read, 0 at the
// end, -errno; meant for regular files, where a read is whole); close() waits for a read in flight and
// ends the thread; the descriptor stays the caller's.
// A callback that throws inside dispatch() stops the read and dispatch() throws it (the packet in hand
// stays for the next batch); on the event loop it goes to 'uncaughtException'. Buffers detached by
// JavaScript (an ArrayBuffer transferred) are never written again: the next read fails saying so.
// Errors thrown carry `code` = the libpcap status name ('PCAP_ERROR_NO_SUCH_DEVICE', ...) and
// pcap_geterr's text as message.

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <pthread.h>

#define META_FIELDS 5
#define DETACHED "the ring, metadata or stats buffer was detached (transferred) while captured; setBuffers() again"
#define ROUNDS_PER_WAKEUP 16

typedef struct {
  napi_env env;
  pcap_t *p;
  int linktype;
  int nano;
  uv_poll_t poll;
  uv_timer_t timer;
  int polling;      // uv handles initialised and not yet closed (poll and timer)
  int pending_closes;
  uint32_t coalesce_ms; // after a wakeup that read packets, read again after this long instead of polling
  napi_ref self;    // strong while polling: the handle lives while it captures
  napi_ref ring_ref, meta_ref, stats_ref, cb_ref;
  napi_async_context actx;
  uint8_t *ring;
  size_t ring_len;
  uint32_t *meta;
  uint32_t slots;   // packets per batch
  double *stats;
  size_t stats_len;
  size_t used;
  uint32_t count;
  int in_dispatch;
  int sync_call;    // inside dispatch() called from JavaScript: the callback's exception goes back to it
  int js_threw;     // the callback threw during a sync_call: the exception is pending, reading stops
  int detached;     // a buffer given to setBuffers() was detached: the pointers below were dropped
  int close_requested;
  int closed;
  napi_async_cleanup_hook_handle cleanup; // registered while polling: env teardown closes us first
  char err[PCAP_ERRBUF_SIZE + 128];
} cap_t;

#define CHECK(call)                                                              \
  do {                                                                           \
    if ((call) != napi_ok) {                                                     \
      const napi_extended_error_info *info_ = NULL;                              \
      napi_get_last_error_info(env, &info_);                                     \
      bool pending_ = false;                                                     \
      napi_is_exception_pending(env, &pending_);                                 \
      if (!pending_)                                                             \
        napi_throw_error(env, "PCAP_BINDING",                                   \
                         info_ && info_->error_message ? info_->error_message    \
                                                       : "node-api call failed"); \
      return NULL;                                                               \
    }                                                                            \
  } while (0)

static napi_value throw_pcap(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static const char *status_code(int status) {
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE: return "PCAP_ERROR_NO_SUCH_DEVICE";
    case PCAP_ERROR_PERM_DENIED: return "PCAP_ERROR_PERM_DENIED";
    case PCAP_ERROR_PROMISC_PERM_DENIED: return "PCAP_ERROR_PROMISC_PERM_DENIED";
    case PCAP_ERROR_IFACE_NOT_UP: return "PCAP_ERROR_IFACE_NOT_UP";
    case PCAP_ERROR_RFMON_NOTSUP: return "PCAP_ERROR_RFMON_NOTSUP";
    case PCAP_ERROR_NOT_RFMON: return "PCAP_ERROR_NOT_RFMON";
    case PCAP_ERROR_ACTIVATED: return "PCAP_ERROR_ACTIVATED";
#ifdef PCAP_ERROR_CAPTURE_NOTSUP
    case PCAP_ERROR_CAPTURE_NOTSUP: return "PCAP_ERROR_CAPTURE_NOTSUP";
#endif
    default: return "PCAP_ERROR";
  }
}

static cap_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_error(env, "PCAP_BINDING", "not a PcapHandle");
    return NULL;
  }
  return (cap_t *)data;
}

static void drop_ref(napi_env env, napi_ref *r) {
  if (*r != NULL) {
    napi_delete_reference(env, *r);
    *r = NULL;
  }
}

static void do_close(cap_t *c);
static void on_handle_closed(uv_handle_t *h) {
  cap_t *c = (cap_t *)h->data;
  if (--c->pending_closes > 0) return;
  napi_env env = c->env;
  napi_async_cleanup_hook_handle hook = c->cleanup;
  c->cleanup = NULL;
  c->polling = 0;
  drop_ref(env, &c->self); // may let the object (and this struct, in its finalizer) go
  if (hook != NULL) napi_remove_async_cleanup_hook(hook); // last: may run finalize() at teardown
}

static void on_env_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  (void)hook;
  do_close((cap_t *)arg); // on_handle_closed removes the hook
}

// Stops polling and closes libpcap. Never inside pcap_dispatch: then it is deferred to its end.
static void do_close(cap_t *c) {
  if (c->closed) return;
  c->closed = 1;
  napi_env env = c->env;
  if (c->polling) {
    uv_poll_stop(&c->poll);
    uv_timer_stop(&c->timer);
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  }
  if (c->p != NULL) {
    pcap_close(c->p);
    c->p = NULL;
  }
  drop_ref(env, &c->cb_ref);
  if (c->actx != NULL) {
    napi_async_destroy(env, c->actx);
    c->actx = NULL;
  }
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  cap_t *c = (cap_t *)data;
  // Not polling (the poll holds a strong reference to the object): nothing is pending on the loop.
  if (c->p != NULL) pcap_close(c->p);
  drop_ref(env, &c->ring_ref);
  drop_ref(env, &c->meta_ref);
  drop_ref(env, &c->stats_ref);
  drop_ref(env, &c->cb_ref);
  if (c->actx != NULL) napi_async_destroy(env, c->actx);
  free(c);
}

// Whether ring, meta and stats still own their memory. JavaScript can detach an ArrayBuffer (transfer it
// to a worker, structuredClone with transfer, ArrayBuffer.prototype.transfer), after which the pointers
// kept here point at freed memory: checked before every read and after every callback, the only
// moments JavaScript can have run since the last check. Needs a handle scope.
static int buffers_attached(cap_t *c) {
  napi_env env = c->env;
  napi_ref refs[3] = {c->ring_ref, c->meta_ref, c->stats_ref};
  for (int i = 0; i < 3; i++) {
    napi_value v, ab;
    bool detached = true;
    if (refs[i] == NULL || napi_get_reference_value(env, refs[i], &v) != napi_ok || v == NULL ||
        napi_get_typedarray_info(env, v, NULL, NULL, NULL, &ab, NULL) != napi_ok ||
        napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached)
      return 0;
  }
  return 1;
}

// Forgets buffers that were detached: nothing is written to them again until setBuffers().
static void buffers_gone(cap_t *c) {
  c->ring = NULL;
  c->meta = NULL;
  c->stats = NULL;
  c->used = 0;
  c->count = 0;
  c->detached = 1;
  snprintf(c->err, sizeof c->err, "%s", DETACHED);
}

static int check_buffers(cap_t *c) {
  if (c->ring == NULL) return 0;
  napi_handle_scope scope;
  if (napi_open_handle_scope(c->env, &scope) != napi_ok) return 1;
  int ok = buffers_attached(c);
  napi_close_handle_scope(c->env, scope);
  if (!ok) buffers_gone(c);
  return ok;
}

// Calls the JavaScript callback with `n` (a packet count, or -1 after an error). On the event loop an
// exception it throws goes to process 'uncaughtException', as from any callback of the loop; inside
// dispatch() it stays pending, reading stops, and dispatch() throws it.
static void call_js(cap_t *c, int32_t n) {
  napi_env env = c->env;
  if (c->cb_ref == NULL) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  if (napi_get_reference_value(env, c->cb_ref, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, n, &arg) == napi_ok) {
    napi_status s = c->sync_call ? napi_call_function(env, recv, cb, 1, &arg, &result)
                                 : napi_make_callback(env, c->actx, recv, cb, 1, &arg, &result);
    bool pending = false;
    if (s != napi_ok) napi_is_exception_pending(env, &pending);
    if (pending && c->sync_call) {
      c->js_threw = 1;
    } else if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
  }
  if (!c->js_threw && n >= 0 && c->ring != NULL && !buffers_attached(c)) buffers_gone(c);
  napi_close_handle_scope(env, scope);
}

static void flush(cap_t *c) {
  if (c->count == 0) return;
  uint32_t n = c->count;
  c->count = 0;
  c->used = 0;
  call_js(c, (int32_t)n);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  cap_t *c = (cap_t *)user;
  if (c->close_requested || c->js_threw || c->ring == NULL) return;
  size_t len = h->caplen;
  if (len > c->ring_len) len = c->ring_len;
  if (c->count == c->slots || c->used + len > c->ring_len) {
    flush(c);
    if (c->close_requested || c->ring == NULL) {
      pcap_breakloop(c->p);
      return;
    }
    // A callback that threw stops the read, but this packet is kept for the next batch (the ring is empty).
    if (c->js_threw) pcap_breakloop(c->p);
  }
  memcpy(c->ring + c->used, bytes, len);
  uint32_t *m = c->meta + (size_t)c->count * META_FIELDS;
  m[0] = (uint32_t)c->used;
  m[1] = (uint32_t)len;
  m[2] = h->len;
  m[3] = (uint32_t)h->ts.tv_sec;
  m[4] = c->nano ? (uint32_t)h->ts.tv_usec : (uint32_t)h->ts.tv_usec * 1000u;
  c->used += len;
  c->count++;
}

// One round: up to ROUNDS_PER_WAKEUP pcap_dispatch calls of a batch each, then the last flush.
// Returns packets read, or -1 with c->err set.
static int run_dispatch(cap_t *c) {
  if (c->p == NULL) return 0;
  if (!check_buffers(c)) return -1;
  c->in_dispatch = 1;
  int total = 0, failed = 0;
  for (int i = 0; i < ROUNDS_PER_WAKEUP && !c->close_requested; i++) {
    int n = pcap_dispatch(c->p, (int)c->slots, on_packet, (u_char *)c);
    if (n == PCAP_ERROR_BREAK) break;
    if (n < 0) {
      snprintf(c->err, sizeof c->err, "%s", pcap_geterr(c->p));
      failed = 1;
      break;
    }
    total += n;
    if ((uint32_t)n < c->slots || c->js_threw || c->ring == NULL) break; // nothing more waiting, or stopped
  }
  if (!c->close_requested && !c->js_threw && c->ring != NULL) flush(c);
  c->in_dispatch = 0;
  if (c->close_requested) do_close(c);
  return failed || c->ring == NULL ? -1 : total;
}

// Wakeups: the descriptor is polled while traffic is idle, so the first packet is read at once. A
// wakeup that read packets switches to a timer: the next read is coalesce_ms later, and reads go on on
// that timer for as long as they find packets, then polling resumes. Under load the event loop turns
// about 1000 / coalesce_ms times a second instead of once every few packets: bigger batches, fewer
// system calls, and less of the garbage Node itself makes on every turn of its loop (the check phase
// creates an empty object each time: ~56 bytes a turn, whatever the addon does).
static void on_timer(uv_timer_t *h);
static void on_poll(uv_poll_t *h, int status, int events);

static void after_read(cap_t *c, int n) {
  if (c->closed) return;
  if (n < 0) {
    // A read error is final: stop waking up (a persistent error would otherwise call back in a busy
    // loop when the callback does not close), then say so once.
    uv_poll_stop(&c->poll);
    uv_timer_stop(&c->timer);
    call_js(c, -1);
    return;
  }
  if (c->closed || c->coalesce_ms == 0) return;
  if (n > 0) {
    uv_poll_stop(&c->poll);
    uv_timer_start(&c->timer, on_timer, c->coalesce_ms, 0);
  } else {
    uv_poll_start(&c->poll, UV_READABLE, on_poll);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  cap_t *c = (cap_t *)h->data;
  if (c->closed) return;
  if (status < 0) {
    // libpcap's own reading usually says more ("The interface disappeared") than the poll's errno.
    if (run_dispatch(c) >= 0 && !c->closed) snprintf(c->err, sizeof c->err, "poll: %s", uv_strerror(status));
    if (!c->closed) uv_poll_stop(&c->poll);
    call_js(c, -1);
    return;
  }
  after_read(c, run_dispatch(c));
}

static void on_timer(uv_timer_t *h) {
  cap_t *c = (cap_t *)h->data;
  if (c->closed) return;
  after_read(c, run_dispatch(c));
}

// ---- methods ------------------------------------------------------------------------------------

static napi_value ctor(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  cap_t *c = (cap_t *)calloc(1, sizeof(cap_t));
  if (c == NULL) return throw_pcap(env, "PCAP_BINDING", "out of memory");
  c->env = env;
  c->linktype = -1;
  if (napi_wrap(env, self, c, finalize, NULL, NULL) != napi_ok) {
    free(c);
    return throw_pcap(env, "PCAP_BINDING", "napi_wrap failed");
  }
  return self;
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) return -1;
  return len + 1 >= cap ? -1 : 0;
}

static napi_value m_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  cap_t *c = unwrap(env, info, &argc, argv);
  if (c == NULL) return NULL;
  if (c->p != NULL || c->closed) return throw_pcap(env, "PCAP_BINDING", "handle already opened");
  if (argc < 4) return throw_pcap(env, "PCAP_BINDING", "open(device, snaplen, promisc, bufferSize, filter)");
  char dev[256];
  if (get_string(env, argv[0], dev, sizeof dev) != 0) return throw_pcap(env, "PCAP_BINDING", "device must be a string under 256 bytes");
  int32_t snaplen = 0, bufsize = 0;
  bool promisc = false;
  CHECK(napi_get_value_int32(env, argv[1], &snaplen));
  CHECK(napi_get_value_bool(env, argv[2], &promisc));
  CHECK(napi_get_value_int32(env, argv[3], &bufsize));
  char *filter = NULL;
  napi_valuetype ft = napi_undefined;
  if (argc >= 5) CHECK(napi_typeof(env, argv[4], &ft));
  if (ft == napi_string) {
    size_t flen = 0;
    CHECK(napi_get_value_string_utf8(env, argv[4], NULL, 0, &flen));
    filter = (char *)malloc(flen + 1);
    if (filter == NULL) return throw_pcap(env, "PCAP_BINDING", "out of memory");
    CHECK(napi_get_value_string_utf8(env, argv[4], filter, flen + 1, &flen));
  }

  char errbuf[PCAP_ERRBUF_SIZE] = "";
  char msg[PCAP_ERRBUF_SIZE + 256];
  pcap_t *p = pcap_create(dev, errbuf);
  if (p == NULL) {
    free(filter);
    return throw_pcap(env, "PCAP_ERROR", errbuf);
  }
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, promisc ? 1 : 0);
  pcap_set_buffer_size(p, bufsize);
  pcap_set_immediate_mode(p, 1);
  pcap_set_timeout(p, 1000);
  int nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int st = pcap_activate(p);
  if (st < 0) {
    // PCAP_ERROR (and PERM_DENIED, NO_SUCH_DEVICE) carry their text in pcap_geterr; the others may not.
    const char *text = pcap_geterr(p);
    if (text == NULL || text[0] == '\0') text = pcap_statustostr(st);
    snprintf(msg, sizeof msg, "%s", text);
    pcap_close(p);
    free(filter);
    return throw_pcap(env, status_code(st), msg);
  }
  if (filter != NULL) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
      snprintf(msg, sizeof msg, "filter: %s", pcap_geterr(p));
      pcap_close(p);
      free(filter);
      return throw_pcap(env, "PCAP_ERROR_FILTER", msg);
    }
    int r = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (r != 0) {
      snprintf(msg, sizeof msg, "filter: %s", pcap_geterr(p));
      pcap_close(p);
      free(filter);
      return throw_pcap(env, "PCAP_ERROR_FILTER", msg);
    }
    free(filter);
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    snprintf(msg, sizeof msg, "%s", errbuf);
    pcap_close(p);
    return throw_pcap(env, "PCAP_ERROR", msg);
  }
  c->p = p;
  c->nano = nano && pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  c->linktype = pcap_datalink(p);
  napi_value out;
  CHECK(napi_create_int32(env, c->linktype, &out));
  return out;
}

static napi_value m_datalink_name(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  cap_t *c = unwrap(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  const char *name = c->linktype >= 0 ? pcap_datalink_val_to_name(c->linktype) : NULL;
  char fallback[48];
  if (name == NULL) {
    snprintf(fallback, sizeof fallback, "DLT_%d", c->linktype);
    name = fallback;
  }
  napi_value out;
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value m_set_buffers(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  cap_t *c = unwrap(env, info, &argc, argv);
  if (c == NULL) return NULL;
  if (c->in_dispatch) return throw_pcap(env, "PCAP_BINDING", "setBuffers() inside a batch");
  if (argc < 3) return throw_pcap(env, "PCAP_BINDING", "setBuffers(ring, meta, stats)");
  napi_typedarray_type t;
  size_t len;
  void *data;
  napi_value ab;
  size_t off;
  bool is;
  CHECK(napi_is_typedarray(env, argv[0], &is));
  if (!is) return throw_pcap(env, "PCAP_BINDING", "ring must be a Uint8Array");
  CHECK(napi_get_typedarray_info(env, argv[0], &t, &len, &data, &ab, &off));
  if (t != napi_uint8_array || len < 64) return throw_pcap(env, "PCAP_BINDING", "ring must be a Uint8Array of at least 64 bytes");
  uint8_t *ring = (uint8_t *)data;
  size_t ring_len = len;
  CHECK(napi_is_typedarray(env, argv[1], &is));
  if (!is) return throw_pcap(env, "PCAP_BINDING", "meta must be a Uint32Array");
  CHECK(napi_get_typedarray_info(env, argv[1], &t, &len, &data, &ab, &off));
  if (t != napi_uint32_array || len < META_FIELDS) return throw_pcap(env, "PCAP_BINDING", "meta must be a Uint32Array of at least 5 elements");
  uint32_t *meta = (uint32_t *)data;
  uint32_t slots = (uint32_t)(len / META_FIELDS);
  CHECK(napi_is_typedarray(env, argv[2], &is));
  if (!is) return throw_pcap(env, "PCAP_BINDING", "stats must be a Float64Array");
  CHECK(napi_get_typedarray_info(env, argv[2], &t, &len, &data, &ab, &off));
  if (t != napi_float64_array || len < 3) return throw_pcap(env, "PCAP_BINDING", "stats must be a Float64Array of at least 3 elements");
  drop_ref(env, &c->ring_ref);
  drop_ref(env, &c->meta_ref);
  drop_ref(env, &c->stats_ref);
  CHECK(napi_create_reference(env, argv[0], 1, &c->ring_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &c->meta_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &c->stats_ref));
  c->ring = ring;
  c->ring_len = ring_len;
  c->meta = meta;
  c->slots = slots;
  c->stats = (double *)data;
  c->stats_len = len;
  c->used = 0;
  c->count = 0;
  c->detached = 0;
  return NULL;
}

static napi_value set_callback(napi_env env, cap_t *c, napi_value cb) {
  napi_valuetype vt;
  CHECK(napi_typeof(env, cb, &vt));
  if (vt != napi_function) return throw_pcap(env, "PCAP_BINDING", "callback must be a function");
  drop_ref(env, &c->cb_ref);
  CHECK(napi_create_reference(env, cb, 1, &c->cb_ref));
  if (c->actx == NULL) {
    napi_value name;
    CHECK(napi_create_string_utf8(env, "PcapCapture", NAPI_AUTO_LENGTH, &name));
    CHECK(napi_async_init(env, NULL, name, &c->actx));
  }
  return NULL;
}

static napi_value m_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_unwrap(env, self, &data));
  cap_t *c = (cap_t *)data;
  if (c->p == NULL || c->closed) return throw_pcap(env, "PCAP_BINDING", "start() on a handle that is not open");
  if (c->ring == NULL) return throw_pcap(env, "PCAP_BINDING", c->detached ? DETACHED : "start() before setBuffers()");
  if (c->polling) return throw_pcap(env, "PCAP_BINDING", "already started");
  if (argc < 1) return throw_pcap(env, "PCAP_BINDING", "start(callback, coalesceMs)");
  uint32_t coalesce = 1;
  if (argc >= 2) {
    napi_valuetype vt;
    CHECK(napi_typeof(env, argv[1], &vt));
    if (vt == napi_number) CHECK(napi_get_value_uint32(env, argv[1], &coalesce));
  }
  if (coalesce > 1000) return throw_pcap(env, "PCAP_BINDING", "coalesceMs must be from 0 to 1000");
  c->coalesce_ms = coalesce;
  set_callback(env, c, argv[0]);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return NULL;
  int fd = pcap_get_selectable_fd(c->p);
  if (fd < 0) return throw_pcap(env, "PCAP_ERROR", "this capture has no selectable descriptor");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int r = uv_poll_init(loop, &c->poll, fd);
  if (r != 0) return throw_pcap(env, "PCAP_ERROR", uv_strerror(r));
  c->poll.data = c;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  r = uv_poll_start(&c->poll, UV_READABLE, on_poll);
  if (r != 0) {
    uv_close((uv_handle_t *)&c->poll, NULL);
    uv_close((uv_handle_t *)&c->timer, NULL);
    return throw_pcap(env, "PCAP_ERROR", uv_strerror(r));
  }
  c->polling = 1;
  CHECK(napi_create_reference(env, self, 1, &c->self));
  CHECK(napi_add_async_cleanup_hook(env, on_env_teardown, c, &c->cleanup));
  return NULL;
}

// Reads what is waiting now, synchronously (batches go to the callback given here or to start()).
static napi_value m_dispatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  cap_t *c = unwrap(env, info, &argc, argv);
  if (c == NULL) return NULL;
  if (c->in_dispatch) return throw_pcap(env, "PCAP_BINDING", "dispatch() inside a batch");
  if (c->p == NULL || c->closed) return throw_pcap(env, "PCAP_BINDING", "dispatch() on a handle that is not open");
  if (c->ring == NULL) return throw_pcap(env, "PCAP_BINDING", c->detached ? DETACHED : "dispatch() before setBuffers()");
  if (argc >= 1) {
    napi_valuetype vt;
    CHECK(napi_typeof(env, argv[0], &vt));
    if (vt == napi_function) {
      set_callback(env, c, argv[0]);
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) return NULL;
    }
  }
  c->sync_call = 1;
  int n = run_dispatch(c);
  c->sync_call = 0;
  if (c->js_threw) {
    c->js_threw = 0;
    return NULL; // the callback's exception, still pending, is dispatch()'s
  }
  if (n < 0) return throw_pcap(env, c->detached ? "PCAP_BINDING" : "PCAP_ERROR", c->err);
  napi_value out;
  CHECK(napi_create_int32(env, n, &out));
  return out;
}

static napi_value m_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  cap_t *c = unwrap(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  if (c->p == NULL) return throw_pcap(env, "PCAP_BINDING", "stats() on a handle that is not open");
  if (c->stats == NULL) return throw_pcap(env, "PCAP_BINDING", c->detached ? DETACHED : "stats() before setBuffers()");
  if (!buffers_attached(c)) {
    buffers_gone(c);
    return throw_pcap(env, "PCAP_BINDING", c->err);
  }
  struct pcap_stat ps;
  if (pcap_stats(c->p, &ps) != 0) return throw_pcap(env, "PCAP_ERROR", pcap_geterr(c->p));
  c->stats[0] = (double)ps.ps_recv;
  c->stats[1] = (double)ps.ps_drop;
  c->stats[2] = (double)ps.ps_ifdrop;
  return NULL;
}

static napi_value m_inject(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  cap_t *c = unwrap(env, info, &argc, argv);
  if (c == NULL) return NULL;
  if (c->p == NULL) return throw_pcap(env, "PCAP_BINDING", "inject() on a handle that is not open");
  bool is = false;
  if (argc >= 1) CHECK(napi_is_typedarray(env, argv[0], &is));
  if (!is) return throw_pcap(env, "PCAP_BINDING", "inject(bytes: Uint8Array, length)");
  napi_typedarray_type t;
  size_t len, off;
  void *data;
  napi_value ab;
  CHECK(napi_get_typedarray_info(env, argv[0], &t, &len, &data, &ab, &off));
  if (t != napi_uint8_array) return throw_pcap(env, "PCAP_BINDING", "inject: bytes must be a Uint8Array");
  if (argc >= 2) {
    napi_valuetype vt;
    CHECK(napi_typeof(env, argv[1], &vt));
    if (vt == napi_number) {
      int64_t n;
      CHECK(napi_get_value_int64(env, argv[1], &n));
      if (n < 0 || (size_t)n > len) return throw_pcap(env, "PCAP_BINDING", "inject: length out of range");
      len = (size_t)n;
    }
  }
  int r = pcap_inject(c->p, data, len);
  if (r < 0) return throw_pcap(env, "PCAP_ERROR", pcap_geterr(c->p));
  napi_value out;
  CHECK(napi_create_int32(env, r, &out));
  return out;
}

static napi_value m_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  cap_t *c = unwrap(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  if (c->closed) return NULL;
  if (c->in_dispatch) {
    c->close_requested = 1; // run_dispatch closes when pcap_dispatch returns
    if (c->p != NULL) pcap_breakloop(c->p);
    return NULL;
  }
  do_close(c);
  return NULL;
}

static napi_value m_last_error(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  cap_t *c = unwrap(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  napi_value out;
  CHECK(napi_create_string_utf8(env, c->err, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value lib_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &out));
  return out;
}

/**
 * The writable range bytes[offset, offset + length) of a Uint8Array argument, for readInto and ReadAhead.start;
 * false with a JavaScript exception pending (naming `who`) when the value or the range is not one.
 */
static bool byte_range(napi_env env, napi_value bytes, napi_value offset_v, napi_value length_v, const char *usage, const char *who, uint8_t **start, size_t *length_out) {
  bool is = false;
  if (napi_is_typedarray(env, bytes, &is) != napi_ok || !is) {
    throw_pcap(env, "PCAP_BINDING", usage);
    return false;
  }
  int32_t offset, length;
  napi_typedarray_type t;
  size_t len, off;
  void *data;
  napi_value ab;
  if (napi_get_value_int32(env, offset_v, &offset) != napi_ok || napi_get_value_int32(env, length_v, &length) != napi_ok ||
      napi_get_typedarray_info(env, bytes, &t, &len, &data, &ab, &off) != napi_ok ||
      t != napi_uint8_array || offset < 0 || length < 0 || (size_t)offset + (size_t)length > len) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: offset and length must lie within a Uint8Array", who);
    throw_pcap(env, "PCAP_BINDING", msg);
    return false;
  }
  *start = (uint8_t *)data + offset;
  *length_out = (size_t)length;
  return true;
}

static napi_value read_into(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  const char *usage = "readInto(fd, bytes: Uint8Array, offset, length)";
  if (argc != 4) return throw_pcap(env, "PCAP_BINDING", usage);
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  uint8_t *dst;
  size_t length;
  if (!byte_range(env, argv[1], argv[2], argv[3], usage, "readInto", &dst, &length)) return NULL;
  ssize_t n;
  do n = read(fd, dst, length);
  while (n < 0 && errno == EINTR);
  napi_value out;
  CHECK(napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &out));
  return out;
}

// ---- ReadAhead ----------------------------------------------------------------------------------

enum { RA_IDLE, RA_ASKED, RA_DONE };

typedef struct {
  int fd;
  int running;            // the thread exists and has not been joined
  int quit;
  int state;              // RA_*: guarded by mu
  uint8_t *dst;
  size_t len;
  int32_t result;         // bytes read, or -errno
  napi_ref held;          // the typed array being written, from start() to wait()
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} read_ahead_t;

static void *ra_main(void *arg) {
  read_ahead_t *ra = (read_ahead_t *)arg;
  pthread_mutex_lock(&ra->mu);
  for (;;) {
    while (ra->state != RA_ASKED && !ra->quit) pthread_cond_wait(&ra->cv, &ra->mu);
    if (ra->state != RA_ASKED) break;
    uint8_t *dst = ra->dst;
    size_t len = ra->len, total = 0;
    int err = 0;
    pthread_mutex_unlock(&ra->mu);
    // Filled whole unless the file ends (or fails: what was read first is given, the error comes next time).
    while (total < len) {
      ssize_t n = read(ra->fd, dst + total, len - total);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      total += (size_t)n;
    }
    pthread_mutex_lock(&ra->mu);
    ra->result = total > 0 || err == 0 ? (int32_t)total : -err;
    ra->state = RA_DONE;
    pthread_cond_broadcast(&ra->cv);
  }
  pthread_mutex_unlock(&ra->mu);
  return NULL;
}

/** Waits for the read in flight, if any; its result, or 0 when none was asked. */
static int32_t ra_settle(napi_env env, read_ahead_t *ra) {
  pthread_mutex_lock(&ra->mu);
  while (ra->state == RA_ASKED) pthread_cond_wait(&ra->cv, &ra->mu);
  int32_t r = ra->state == RA_DONE ? ra->result : 0;
  ra->state = RA_IDLE;
  pthread_mutex_unlock(&ra->mu);
  drop_ref(env, &ra->held);
  return r;
}

static void ra_stop(napi_env env, read_ahead_t *ra) {
  if (!ra->running) return;
  ra_settle(env, ra);
  pthread_mutex_lock(&ra->mu);
  ra->quit = 1;
  pthread_cond_broadcast(&ra->cv);
  pthread_mutex_unlock(&ra->mu);
  pthread_join(ra->thread, NULL);
  ra->running = 0;
}

static void ra_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  read_ahead_t *ra = (read_ahead_t *)data;
  ra_stop(env, ra);
  pthread_mutex_destroy(&ra->mu);
  pthread_cond_destroy(&ra->cv);
  free(ra);
}

static read_ahead_t *ra_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return (read_ahead_t *)data;
}

static napi_value ra_ctor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  int32_t fd = -1;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    return throw_pcap(env, "PCAP_BINDING", "new ReadAhead(fd): fd must be an open descriptor");
  }
  read_ahead_t *ra = (read_ahead_t *)calloc(1, sizeof(read_ahead_t));
  if (ra == NULL) return throw_pcap(env, "PCAP_BINDING", "out of memory");
  ra->fd = fd;
  pthread_mutex_init(&ra->mu, NULL);
  pthread_cond_init(&ra->cv, NULL);
  int err = pthread_create(&ra->thread, NULL, ra_main, ra);
  if (err != 0) {
    pthread_mutex_destroy(&ra->mu);
    pthread_cond_destroy(&ra->cv);
    free(ra);
    return throw_pcap(env, "PCAP_BINDING", strerror(err));
  }
  ra->running = 1;
  if (napi_wrap(env, self, ra, ra_finalize, NULL, NULL) != napi_ok) {
    ra_finalize(env, ra, NULL);
    return throw_pcap(env, "PCAP_BINDING", "napi_wrap failed");
  }
  return self;
}

static napi_value ra_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  read_ahead_t *ra = ra_this(env, info, &argc, argv);
  if (ra == NULL) return throw_pcap(env, "PCAP_BINDING", "ReadAhead.start: not a ReadAhead");
  const char *usage = "ReadAhead.start(bytes: Uint8Array, offset, length)";
  if (argc != 3) return throw_pcap(env, "PCAP_BINDING", usage);
  uint8_t *dst;
  size_t length;
  if (!byte_range(env, argv[0], argv[1], argv[2], usage, "ReadAhead.start", &dst, &length)) return NULL;
  pthread_mutex_lock(&ra->mu);
  if (!ra->running || ra->state != RA_IDLE) {
    pthread_mutex_unlock(&ra->mu);
    return throw_pcap(env, "PCAP_BINDING", ra->running ? "ReadAhead.start: a read is already in flight (wait() first)" : "ReadAhead.start: closed");
  }
  if (napi_create_reference(env, argv[0], 1, &ra->held) != napi_ok) {
    pthread_mutex_unlock(&ra->mu);
    return throw_pcap(env, "PCAP_BINDING", "ReadAhead.start: napi_create_reference failed");
  }
  ra->dst = dst;
  ra->len = length;
  ra->state = RA_ASKED;
  pthread_cond_broadcast(&ra->cv);
  pthread_mutex_unlock(&ra->mu);
  return NULL;
}

static napi_value ra_wait(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  read_ahead_t *ra = ra_this(env, info, &argc, NULL);
  if (ra == NULL) return throw_pcap(env, "PCAP_BINDING", "ReadAhead.wait: not a ReadAhead");
  pthread_mutex_lock(&ra->mu);
  int idle = ra->state == RA_IDLE;
  pthread_mutex_unlock(&ra->mu);
  if (idle) return throw_pcap(env, "PCAP_BINDING", "ReadAhead.wait: no read in flight (start() first)");
  napi_value out;
  CHECK(napi_create_int32(env, ra_settle(env, ra), &out));
  return out;
}

static napi_value ra_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  read_ahead_t *ra = ra_this(env, info, &argc, NULL);
  if (ra == NULL) return throw_pcap(env, "PCAP_BINDING", "ReadAhead.close: not a ReadAhead");
  ra_stop(env, ra);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"open", NULL, m_open, NULL, NULL, NULL, napi_default, NULL},
    {"datalinkName", NULL, m_datalink_name, NULL, NULL, NULL, napi_default, NULL},
    {"setBuffers", NULL, m_set_buffers, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, m_start, NULL, NULL, NULL, napi_default, NULL},
    {"dispatch", NULL, m_dispatch, NULL, NULL, NULL, napi_default, NULL},
    {"stats", NULL, m_stats, NULL, NULL, NULL, napi_default, NULL},
    {"inject", NULL, m_inject, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, m_close, NULL, NULL, NULL, napi_default, NULL},
    {"lastError", NULL, m_last_error, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, fn, fields;
  CHECK(napi_define_class(env, "PcapHandle", NAPI_AUTO_LENGTH, ctor, NULL, sizeof methods / sizeof methods[0], methods, &cls));
  CHECK(napi_set_named_property(env, exports, "PcapHandle", cls));
  CHECK(napi_create_function(env, "libVersion", NAPI_AUTO_LENGTH, lib_version, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "libVersion", fn));
  CHECK(napi_create_function(env, "readInto", NAPI_AUTO_LENGTH, read_into, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "readInto", fn));
  napi_property_descriptor ra_methods[] = {
    {"start", NULL, ra_start, NULL, NULL, NULL, napi_default, NULL},
    {"wait", NULL, ra_wait, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, ra_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value ra_cls;
  CHECK(napi_define_class(env, "ReadAhead", NAPI_AUTO_LENGTH, ra_ctor, NULL, sizeof ra_methods / sizeof ra_methods[0], ra_methods, &ra_cls));
  CHECK(napi_set_named_property(env, exports, "ReadAhead", ra_cls));
  CHECK(napi_create_int32(env, META_FIELDS, &fields));
  CHECK(napi_set_named_property(env, exports, "META_FIELDS", fields));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
