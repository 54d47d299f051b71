/* handleSummary() on the controller (controller/handle_summary.h).
 *
 * One heap per run, made only when a module of the archive names handleSummary. Its user data
 * starts with sb_duk_udata, so Duktape's exec-timeout check (DUK_USE_EXEC_TIMEOUT_CHECK) reads
 * the |stop| flag a watchdog thread raises when handleSummaryTimeout runs out: the script then
 * throws a RangeError wherever it is, and the call returns. What the script returns is copied out
 * of the heap before anything is written, so a result of the wrong shape writes nothing. */
#include "controller/handle_summary.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/js_modules.h"
#include "agent/js_textcodec.h"
#include "agent/vu.h"
#include "common/buf.h"
#include "common/duk_udata.h"
#include "common/duration.h"
#include "common/jsmod.h"
#include "common/modpath.h"
#include "controller/run_state.h"
#include "duktape.h"

#define DEFAULT_TIMEOUT_MS 120000 /* k6's handleSummaryTimeout */
#define K_STUBS DUK_HIDDEN_SYMBOL("sbStubs")

typedef struct hs {
  sb_duk_udata udata;           /* first: Duktape hands the heap's user data to sb_duk_* */
  atomic_int expired;           /* raised by the watchdog; udata.stop points here */
  const sb_handle_summary_opts *o;
  sb_program *prog;
  sb_data_store *shared;        /* k6/data's arrays, from the archive */
} hs;

/* Stand-ins for the built-in modules that need a VU (the pure ones are real): what a script's
 * init code and handleSummary() call at the end of a test works, requests and timers throw. */
static const char STUBS[] =
    "(function (options) {\n"
    "  function no(n) { return function () { throw new Error(n + '() is not available in "
    "handleSummary(): it runs on the controller after the test'); }; }\n"
    "  function ns(pre, names, o) { o = o || {};\n"
    "    for (var i = 0; i < names.length; i++) o[names[i]] = no(pre + names[i]); return o; }\n"
    "  function nop() {}\n"
    "  function metric(kind) { var M = function (name) {\n"
    "      if (!(this instanceof M)) throw new TypeError(kind + ' must be called with new');\n"
    "      this.name = name; };\n"
    "    M.prototype.add = nop; return M; }\n"
    "  function check(v, sets) { var ok = true;\n"
    "    for (var k in sets) { var c = sets[k]; if (!(typeof c === 'function' ? c(v) : c)) ok = "
    "false; }\n"
    "    return ok; }\n"
    "  var timers = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'];\n"
    "  var exec = {test: {options: options, abort: no('exec.test.abort')}};\n"
    "  ['vu', 'instance', 'scenario'].forEach(function (k) { Object.defineProperty(exec, k, {\n"
    "    enumerable: true, get: no('exec.' + k) }); });\n"
    "  return {\n"
    "    'k6': {sleep: nop, check: check, group: function (n, fn) { return fn(); },\n"
    "      fail: function (m) { throw new Error(m); }, randomSeed: nop},\n"
    "    'k6/http': ns('http.', ['get', 'post', 'put', 'patch', 'del', 'head', 'options',\n"
    "        'request', 'batch', 'asyncRequest'], {setResponseCallback: nop,\n"
    "      expectedStatuses: function () { return {statuses: [].slice.call(arguments)}; },\n"
    "      file: function (data, filename, ct) { return {data: data, filename: filename,\n"
    "        content_type: ct || 'application/octet-stream'}; },\n"
    "      url: function (s) { var r = s[0];\n"
    "        for (var i = 1; i < arguments.length; i++) r += arguments[i] + s[i];\n"
    "        return {url: r}; },\n"
    "      cookieJar: function () { return {}; }, CookieJar: function () {}}),\n"
    "    'k6/metrics': {Counter: metric('Counter'), Gauge: metric('Gauge'),\n"
    "      Rate: metric('Rate'), Trend: metric('Trend')},\n"
    "    'k6/execution': exec,\n"
    "    'k6/ws': ns('ws.', ['connect']),\n"
    "    'k6/timers': ns('', timers),\n"
    "    'k6/experimental/timers': ns('', timers)\n"
    "  };\n"
    "})";

int sb_handle_summary_wanted(const sb_archive *ar) {
  for (size_t i = 0; ar && i < ar->n; i++) {
    const sb_archive_file *f = &ar->files[i];
    if (strncmp(f->name, "es5/", 4) || !strcmp(f->name, SB_JSMOD_PRELUDE)) continue;
    if (memmem(f->data, f->len, "handleSummary", 13)) return 1;
  }
  return 0;
}

/* --- the watchdog: handleSummaryTimeout ----------------------------------------------------- */

typedef struct watchdog {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, started;
  int64_t ms;
  atomic_int *flag;
} watchdog;

static void *watch(void *arg) {
  watchdog *w = arg;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += w->ms / 1000;
  t.tv_nsec += (w->ms % 1000) * 1000000;
  if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
  pthread_mutex_lock(&w->mu);
  int rc = 0;
  while (!w->done && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&w->cv, &w->mu, &t);
  if (!w->done) atomic_store(w->flag, 1);
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* Starts the watch; a failure to start only loses the timeout. */
static void watch_start(watchdog *w, int64_t ms, atomic_int *flag) {
  pthread_condattr_t a;
  memset(w, 0, sizeof(*w));
  w->ms = ms;
  w->flag = flag;
  pthread_mutex_init(&w->mu, NULL);
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cv, &a);
  pthread_condattr_destroy(&a);
  w->started = pthread_create(&w->th, NULL, watch, w) == 0;
}

static void watch_stop(watchdog *w) {
  pthread_mutex_lock(&w->mu);
  w->done = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (w->started) pthread_join(w->th, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

/* --- globals and modules ---------------------------------------------------------------------- */

static hs *heap_hs(duk_context *ctx) {
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  return mf.udata;
}

/* console.log/info/warn/error/debug: one k6 log line on stderr. */
static duk_ret_t console_out(duk_context *ctx) {
  static const char *const levels[] = {"INFO", "INFO", "WARN", "ERRO", "DEBU"};
  int magic = duk_get_current_magic(ctx);
  const sb_handle_summary_opts *o = heap_hs(ctx)->o;
  if (magic == 4 && !o->verbose) return 0;
  size_t len;
  const char *line = sb_js_console_line(ctx, &len);
  fprintf(o->err, "%s[%04lld] %.*s  source=console\n", levels[magic >= 0 && magic < 5 ? magic : 0],
          o->log_s, (int)len, line);
  return 0;
}

/* open(path[, "b"]): a file the compile step archived (init code only reads what it read). */
static duk_ret_t js_open(duk_context *ctx) {
  hs *h = heap_hs(ctx);
  const char *arg = duk_require_string(ctx, 0), *mode = duk_get_string_default(ctx, 1, "");
  char base[4096], url[4096], name[4200];
  sb_err err;
  err.msg[0] = '\0';
  sb_jsmod_caller_url(ctx, base, sizeof(base), sb_program_entry(h->prog));
  if (sb_jsmod_open_url(base, arg, url, sizeof(url), &err))
    return duk_error(ctx, DUK_ERR_ERROR, "open(\"%s\"): %s", arg, err.msg);
  const sb_archive_file *f = NULL;
  if (!sb_modpath_to_archive(url, 0, name, sizeof(name))) f = sb_archive_get(h->o->archive, name);
  if (!f) return duk_error(ctx, DUK_ERR_ERROR, "open(\"%s\"): file not in the archive", arg);
  if (strchr(mode, 'b')) {
    void *p = duk_push_fixed_buffer(ctx, f->len);
    memcpy(p, f->data, f->len);
    duk_push_buffer_object(ctx, -1, 0, f->len, DUK_BUFOBJ_ARRAYBUFFER);
  } else {
    duk_push_lstring(ctx, (const char *)f->data, f->len);
  }
  return 1;
}

static int builtin(duk_context *ctx, const char *name, void *ud) {
  hs *h = ud;
  if (sb_js_module_push(ctx, name, 1)) return 1;
  if (!strcmp(name, "k6/data")) {
    sb_js_data_push_store(ctx, h->shared);
    return 1;
  }
  duk_push_heap_stash(ctx);
  duk_get_prop_string(ctx, -1, K_STUBS);
  if (!duk_get_prop_string(ctx, -1, name)) {         /* -> [ stash stubs mod ] */
    duk_pop_3(ctx);
    return 0;
  }
  duk_replace(ctx, -3);
  duk_pop(ctx);                                      /* -> [ mod ] */
  return 1;
}

/* [ ] -> [ ]: console, __ENV (the archive's env), __VU, open(), TextEncoder/TextDecoder, timer
 * globals that throw, and the module stand-ins. */
static duk_ret_t setup_safe(duk_context *ctx, void *udata) {
  const sb_handle_summary_opts *o = heap_hs(ctx)->o;
  static const char *const names[] = {"log", "info", "warn", "error", "debug"};
  duk_push_object(ctx);
  for (int i = 0; i < 5; i++) {
    duk_push_c_function(ctx, console_out, DUK_VARARGS);
    duk_set_magic(ctx, -1, i);
    duk_put_prop_string(ctx, -2, names[i]);
  }
  duk_put_global_string(ctx, "console");
  const sb_archive_file *meta = sb_archive_get(o->archive, "metadata.json");
  duk_push_lstring(ctx, meta ? (const char *)meta->data : "{}", meta ? meta->len : 2);
  duk_json_decode(ctx, -1);                          /* -> [ metadata ] */
  if (!duk_get_prop_string(ctx, -1, "env") || !duk_is_object(ctx, -1)) {
    duk_pop(ctx);
    duk_push_object(ctx);
  }
  duk_put_global_string(ctx, "__ENV");
  duk_pop(ctx);
  duk_eval_string_noresult(ctx, "this.__VU = 0; this.__ITER = 0;");
  duk_push_c_function(ctx, js_open, DUK_VARARGS);
  duk_put_global_string(ctx, "open");
  sb_js_textcodec_register(ctx);
  duk_push_heap_stash(ctx);
  duk_eval_string(ctx, STUBS);                       /* -> [ stash fn ] */
  duk_push_string(ctx, o->options_json ? o->options_json : "{}");
  duk_json_decode(ctx, -1);
  duk_call(ctx, 1);                                  /* -> [ stash stubs ] */
  duk_get_prop_string(ctx, -1, "k6/timers");
  duk_enum(ctx, -1, 0);
  while (duk_next(ctx, -1, 1)) {                     /* the timer functions, global too */
    const char *k = duk_get_string(ctx, -2);        /* -> [ ... enum key fn ] */
    duk_put_global_string(ctx, k);
    duk_pop(ctx);
  }
  duk_pop_2(ctx);
  duk_put_prop_string(ctx, -2, K_STUBS);
  duk_pop(ctx);
  return 0;
}

/* --- the call and its result ------------------------------------------------------------------ */

typedef struct output {
  char *key;     /* "stdout", "stderr" or a path, UTF-8 */
  uint8_t *data; /* what to write */
  size_t len;
} output;

typedef struct outputs {
  output *v;
  size_t n;
} outputs;

static void outputs_free(outputs *os) {
  for (size_t i = 0; i < os->n; i++)
    free(os->v[i].key), free(os->v[i].data);
  free(os->v);
  memset(os, 0, sizeof(*os));
}

/* [ exports ] -> [ result ]: handleSummary(data), data.setup_data set (undefined without one). */
static duk_ret_t call_safe(duk_context *ctx, void *udata) {
  const sb_handle_summary_opts *o = udata;
  duk_get_prop_string(ctx, -1, "handleSummary");    /* -> [ exports fn ] */
  duk_push_string(ctx, o->data_json);
  duk_json_decode(ctx, -1);                          /* -> [ exports fn data ] */
  if (o->setup_data) {
    duk_push_string(ctx, o->setup_data);
    duk_json_decode(ctx, -1);
  } else {
    duk_push_undefined(ctx);
  }
  duk_put_prop_string(ctx, -2, "setup_data");
  duk_call(ctx, 1);                                  /* -> [ exports result ] */
  return 1;
}

/* Copies the string or buffer at the top into |*p|/|*n| (strings as UTF-8). 0, or -1 when the
 * value is neither, SB_ENOMEM. */
static int take_bytes(duk_context *ctx, uint8_t **p, size_t *n) {
  duk_size_t len;
  const void *src;
  int str = duk_is_string(ctx, -1);
  if (str) src = duk_get_lstring(ctx, -1, &len);
  else if (duk_is_buffer_data(ctx, -1)) src = duk_get_buffer_data(ctx, -1, &len);
  else return -1;
  if (!(*p = malloc(len + 1))) return SB_ENOMEM;
  if (str) {
    *n = sb_js_cesu_to_utf8(*p, src, len);
  } else {
    if (len) memcpy(*p, src, len);
    *n = len;
  }
  (*p)[*n] = 0;
  return 0;
}

static const char *type_of(duk_context *ctx, duk_idx_t i) {
  switch (duk_get_type(ctx, i)) {
  case DUK_TYPE_BOOLEAN: return "boolean";
  case DUK_TYPE_NUMBER: return "number";
  case DUK_TYPE_STRING: return "string";
  case DUK_TYPE_NULL: return "null";
  case DUK_TYPE_UNDEFINED: return "undefined";
  default: return duk_is_array(ctx, i) ? "array" : duk_is_function(ctx, i) ? "function" : "object";
  }
}

/* Copies the result at the top (an object of strings and buffers) into |os|, in key order.
 * Returns 0, SB_EINVAL or SB_ENOMEM. */
static int take_result(duk_context *ctx, outputs *os, sb_err *err) {
  int thenable = 0;
  if (duk_is_object(ctx, -1)) {
    duk_get_prop_string(ctx, -1, "then");
    thenable = duk_is_function(ctx, -1);
    duk_pop(ctx);
  }
  if (!duk_is_object(ctx, -1) || duk_is_array(ctx, -1) || duk_is_function(ctx, -1) ||
      duk_is_buffer_data(ctx, -1) || thenable)
    return sb_err_set(err, SB_EINVAL, "handleSummary() should return a map with string keys (got "
                      "%s%s)", thenable ? "a Promise" : type_of(ctx, -1),
                      thenable ? ": k6 does not wait for an async handleSummary" : "");
  int rc = 0;
  duk_enum(ctx, -1, DUK_ENUM_OWN_PROPERTIES_ONLY);
  while (!rc && duk_next(ctx, -1, 1)) {              /* -> [ result enum key value ] */
    output *nv = realloc(os->v, (os->n + 1) * sizeof(*nv));
    if (!nv) {
      rc = sb_err_set(err, SB_ENOMEM, "out of memory");
      break;
    }
    os->v = nv;
    output *out = memset(&os->v[os->n], 0, sizeof(*out));
    rc = take_bytes(ctx, &out->data, &out->len);
    if (rc == -1)
      rc = sb_err_set(err, SB_EINVAL, "error handling summary object '%s': invalid type %s, it needs "
                      "to be a string or ArrayBuffer", duk_to_string(ctx, -2), type_of(ctx, -1));
    duk_pop(ctx);
    size_t klen;
    if (!rc && (rc = take_bytes(ctx, (uint8_t **)&out->key, &klen)) != 0)
      rc = sb_err_set(err, SB_ENOMEM, "out of memory");
    duk_pop(ctx);
    os->n++;
  }
  duk_pop(ctx);                                      /* the enum */
  if (rc && rc != SB_EINVAL && rc != SB_ENOMEM) rc = SB_ENOMEM;
  return rc;
}

/* Writes every output (k6's handleSummaryResult): stdout, stderr or a file; a file that fails is
 * reported in |err| (SB_EIO) after the others are written. */
static int write_outputs(const outputs *os, const sb_handle_summary_opts *o, sb_err *err) {
  sb_buf bad;
  sb_buf_init(&bad);
  for (size_t i = 0; i < os->n; i++) {
    const output *out = &os->v[i];
    FILE *f = !strcmp(out->key, "stdout") ? o->out : !strcmp(out->key, "stderr") ? o->err : NULL;
    if (f) {
      if (out->len) fwrite(out->data, 1, out->len, f);
      fflush(f);
      continue;
    }
    int fd = open(out->key, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
      sb_buf_printf(&bad, "%scould not open '%s': %s", bad.len ? "; " : "", out->key, strerror(errno));
      continue;
    }
    size_t done = 0;
    while (done < out->len) {
      ssize_t k = write(fd, out->data + done, out->len - done);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      done += (size_t)k;
    }
    if (done < out->len)
      sb_buf_printf(&bad, "%serror saving summary to '%s' after %zu bytes: %s", bad.len ? "; " : "",
                    out->key, done, strerror(errno));
    close(fd);
  }
  int rc = bad.len ? sb_err_set(err, SB_EIO, "could not save some summary information: %s", bad.data)
                   : 0;
  sb_buf_clear(&bad);
  return rc;
}

/* In the heap: the init code, then handleSummary(data), its result copied into |os|. Returns 1
 * (called), 0 (not exported) or a negative code. */
static int call_in_heap(duk_context *ctx, hs *h, outputs *os, sb_err *err) {
  int rc = sb_jsmod_install(ctx, h->prog, builtin, h);
  if (rc) return sb_err_set(err, rc, "installing the module loader: %s", sb_strerror(rc));
  if (duk_safe_call(ctx, setup_safe, NULL, 0, 1) != DUK_EXEC_SUCCESS)
    return sb_err_set(err, SB_ESCRIPT, "handleSummary's context: %s", duk_safe_to_string(ctx, -1));
  duk_pop(ctx);
  if ((rc = sb_jsmod_run_entry(ctx, err)) != 0) return rc; /* -> [ exports ] */
  duk_get_prop_string(ctx, -1, "handleSummary");
  int kind = duk_is_function(ctx, -1) ? 1 : duk_is_undefined(ctx, -1) ? 0 : -1;
  duk_pop(ctx);
  if (kind <= 0)
    return kind ? sb_err_set(err, SB_EINVAL, "exported identifier handleSummary must be a function")
                : 0;
  if (duk_safe_call(ctx, call_safe, (void *)h->o, 1, 1) != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, err);
    return SB_ESCRIPT;
  }
  if (duk_is_null_or_undefined(ctx, -1)) return 0; /* the default summary, as k6's wrapper */
  return (rc = take_result(ctx, os, err)) != 0 ? rc : 1;
}

/* handleSummaryTimeout ("30s", or milliseconds) of the consolidated options, else of the
 * script's (metadata.json), else k6's 2m. */
static int64_t timeout_of(const char *options_json, const sb_archive *ar) {
  const sb_archive_file *meta = sb_archive_get(ar, "metadata.json");
  json_t *o = options_json ? json_loads(options_json, 0, NULL) : NULL;
  json_t *m = meta ? json_loadb((const char *)meta->data, meta->len, 0, NULL) : NULL;
  json_t *v = json_object_get(o, "handleSummaryTimeout");
  if (json_is_null(v) || !v) v = json_object_get(json_object_get(m, "options"), "handleSummaryTimeout");
  int64_t ms = DEFAULT_TIMEOUT_MS;
  sb_err err;
  if (json_is_number(v) && json_number_value(v) > 0) ms = (int64_t)json_number_value(v);
  if (json_is_string(v) && sb_duration_parse_ms(json_string_value(v), &ms, &err)) ms = DEFAULT_TIMEOUT_MS;
  json_decref(o);
  json_decref(m);
  return ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
}

int sb_handle_summary_run(const sb_handle_summary_opts *o, sb_err *err) {
  hs h;
  outputs os = {0};
  memset(&h, 0, sizeof(h));
  h.o = o;
  h.udata.stop = &h.expired;
  int rc = sb_program_new(&h.prog, o->archive, err);
  if (rc) return rc;
  if ((rc = sb_data_store_new(&h.shared, o->archive, err)) != 0) goto fail_store;
  duk_context *ctx = duk_create_heap(NULL, NULL, NULL, &h, NULL);
  if (!ctx) {
    rc = sb_err_set(err, SB_ENOMEM, "out of memory creating handleSummary's heap");
    goto fail_heap;
  }
  int64_t ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  watchdog w;
  watch_start(&w, ms, &h.expired);
  rc = call_in_heap(ctx, &h, &os, err);
  watch_stop(&w);
  duk_destroy_heap(ctx);
  if (rc < 0 && atomic_load(&h.expired))
    rc = sb_err_set(err, SB_ETIMEDOUT, "handleSummary() execution timed out after %g seconds",
                    (double)ms / 1000.0);
  if (rc == 1) {
    int wrc = write_outputs(&os, o, err);
    if (wrc) rc = wrc;
  }
fail_heap:
  sb_data_store_free(h.shared);
fail_store:
  sb_program_free(h.prog);
  outputs_free(&os);
  return rc;
}

/* --- the end of a run ------------------------------------------------------------------------- */

/* summaryTimeUnit of the consolidated options, copied into |out| ("" when unset). */
static void time_unit_of(const char *options_json, char *out, size_t cap) {
  json_t *o = options_json ? json_loads(options_json, 0, NULL) : NULL;
  const char *u = json_string_value(json_object_get(o, "summaryTimeUnit"));
  snprintf(out, cap, "%s", u ? u : "");
  json_decref(o);
}

/* handleSummary's data.speedboat_generator: the generators' health (controller/run_state.h),
 * under a key k6 does not use, spliced into the data object before its closing brace. */
static int generator_data(sb_buf *data, const sb_run_state *run) {
  if (data->len < 2 || data->data[data->len - 1] != '}') return 0;
  data->len--;
  int rc = sb_buf_puts(data, data->data[data->len - 1] == '{' ? "\"speedboat_generator\":"
                                                              : ",\"speedboat_generator\":");
  if (!rc) rc = sb_run_state_generator_json(data, run);
  return rc || sb_buf_puts(data, "}") ? SB_ENOMEM : 0;
}

/* The generators' verdict after the summary (nothing when none was saturated): on stdout with
 * the default summary, on stderr when handleSummary() took stdout over or there is no summary. */
static void generator_text(const sb_run_state *run, FILE *f) {
  sb_buf b;
  sb_buf_init(&b);
  if (sb_run_state_generator_text(&b, run) > 0) {
    fprintf(f, "\n%.*s", (int)b.len, b.data);
    fflush(f);
  }
  sb_buf_clear(&b);
}

/* Runs handleSummary() when the archive has one; 1 when it took over the output. Errors go to
 * stderr; those that leave nothing written give 0 (the default summary follows). */
static int try_handle_summary(const sb_end_summary *e, const sb_summary_input *in) {
  sb_archive *ar = NULL;
  sb_err err;
  err.msg[0] = '\0';
  if (!e->archive || sb_archive_parse(&ar, e->archive, e->archive_len, &err) ||
      !sb_handle_summary_wanted(ar)) {
    sb_archive_free(ar);
    return 0;
  }
  sb_buf data;
  sb_buf_init(&data);
  sb_summary_state st = {isatty(1), isatty(2), 0};
  const char *nc = getenv("NO_COLOR"), *knc = getenv("K6_NO_COLOR");
  st.no_color = (nc && *nc) || (knc && *knc && strcmp(knc, "false") && strcmp(knc, "0"));
  int rc = sb_summary_data_json(&data, in, &st);
  if (!rc && e->run) rc = generator_data(&data, e->run);
  if (!rc) {
    sb_handle_summary_opts o = {ar,      data.data,  e->setup_data, e->options_json,
                                timeout_of(e->options_json, ar), e->verbose, e->log_s, stdout,
                                stderr};
    rc = sb_handle_summary_run(&o, &err);
  } else {
    sb_err_set(&err, rc, "out of memory building handleSummary's data");
  }
  if (rc < 0)
    fprintf(stderr, "ERRO[%04lld] %s%s%s\n", e->log_s,
            strncmp(err.msg, "handleSummary()", 15) ? "handleSummary(): " : "", err.msg,
            rc == SB_EIO || rc == SB_EINVAL ? "" : " (the default summary follows)");
  sb_buf_clear(&data);
  sb_archive_free(ar);
  return rc == 1 || rc == SB_EIO || rc == SB_EINVAL;
}

int sb_end_summary_write(const sb_end_summary *e) {
  if (e->mode == SB_SUMMARY_DISABLED) {
    if (e->run) generator_text(e->run, stderr);
    return 0;
  }
  sb_threshold *t = NULL;
  size_t n = 0;
  sb_threshold_result *res = NULL;
  char unit[16];
  time_unit_of(e->options_json, unit, sizeof(unit));
  if (!e->opts->no_thresholds && sb_thresholds_parse(e->opts, &t, &n, NULL) == 0 &&
      (res = calloc(n + 1, sizeof(*res))) != NULL)
    for (size_t i = 0; i < n; i++) /* as the judge did at the end: same metrics, same verdicts */
      if (sb_threshold_eval(&t[i], e->metrics, e->duration_s, 0, &res[i], NULL) != 0) res[i].ok = 0;
  sb_summary_input in = {
      .metrics = e->metrics,
      .trend_stats = (const char *const *)e->opts->summary_trend_stats,
      .ntrend_stats = e->opts->nsummary_trend_stats,
      .thresholds = res ? t : NULL,
      .results = res,
      .nthresholds = res ? n : 0,
      .duration_s = e->duration_s,
      .mode = e->mode,
      .time_unit = unit,
  };
  if (!in.ntrend_stats) in.trend_stats = NULL;
  int handled = try_handle_summary(e, &in);
  if (!handled && sb_summary_print(stdout, &in))
    fprintf(stderr, "ERRO[%04lld] the end-of-test summary: out of memory\n", e->log_s);
  fflush(stdout);
  if (e->run) generator_text(e->run, handled ? stderr : stdout);
  free(res);
  sb_thresholds_free(t, n);
  return handled;
}
