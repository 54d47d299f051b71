/* Virtual users (agent/vu.h).
 *
 * One Duktape heap (or a thread of a heap shared with other VUs: agent/vu_heap.h) and one
 * coroutine per VU. Init runs once, on the caller's stack (it cannot wait); the coroutine, made
 * with the first iteration or call, runs a job loop (one iteration or call per start) and yields
 * at the end of every job, so the stack is made once and an
 * iteration allocates nothing of its own: the exported function is looked up once per export
 * name and kept on the heap's value stack, the deferred "done" event and the sleep timer are
 * embedded here.
 *
 * Value stack of an idle VU: [ exports fn data ] — the entry's exports, the cached iteration
 * function and the setup data every iteration gets (undefined until the first iteration parses
 * env.data_json). A call (setup/teardown) adds its function while it runs: [ exports fn data
 * callee ]. Duktape is only touched from the loop's stack while the VU is idle; everything that
 * runs JS runs protected on the coroutine.
 *
 * Interruption: sb_vu_interrupt() sets the heap's interrupt flag (Duktape throws a RangeError at
 * its next check, and keeps throwing until every catch is exhausted), cancels the pending
 * operation, and resumes the coroutine so the pcall unwinds; sb_vu_wait() refuses to suspend
 * while the flag is set. The flag is cleared only once the pcall has returned. */
#include "agent/vu_internal.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/http_client.h"
#include "agent/js_modules.h"
#include "agent/js_textcodec.h"
#include "common/clock.h"
#include "common/modpath.h"

/* Reserved, not committed: a plain iteration touches a few pages. The size is set by the deepest
 * recursion a script can force before Duktape's own limits throw (native calls 1000, regexp
 * compiler 10000, compiler 2500; test_deep_recursion_stays_on_stack): measured 1.7 MiB at -O2 and
 * 4.2 MiB under ASan, whose frames are larger. */
#if defined(__SANITIZE_ADDRESS__)
#define VU_STACK (16 * 1024 * 1024)
#else
#define VU_STACK (4 * 1024 * 1024)
#endif

/* Garbage allowed between collections. Closures made per iteration (check's callbacks) form
 * prototype<->constructor cycles only mark-and-sweep frees, and Duktape's own trigger lets a small
 * heap grow ~10x before it runs: measured 1 MB after 2,000 iterations of one check. */
#define VU_GC_SLACK (128 * 1024)

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* --- capped allocator -------------------------------------------------------------------- */

/* A heap of its own: every block counts against its VU (sb_vu_blk_*: the worker's size classes,
 * or malloc). */
static void *vu_alloc(void *ud, duk_size_t size) {
  sb_vu *vu = ud;
  if (sb_vu_over_limit(vu, vu->mem, NULL, size)) return NULL;
  ptrdiff_t d;
  void *p = sb_vu_blk_alloc(vu->mem, size, &d);
  vu->heap_bytes += (size_t)d;
  return p;
}

static void *vu_realloc(void *ud, void *ptr, duk_size_t size) {
  sb_vu *vu = ud;
  if (sb_vu_over_limit(vu, vu->mem, ptr, size)) return NULL;
  ptrdiff_t d;
  void *q = sb_vu_blk_realloc(vu->mem, ptr, size, &d);
  vu->heap_bytes += (size_t)d; /* unchanged when it failed */
  return q;
}

static void vu_free_mem(void *ud, void *ptr) {
  sb_vu *vu = ud;
  ptrdiff_t d;
  sb_vu_blk_free(vu->mem, ptr, &d);
  vu->heap_bytes += (size_t)d;
}

static void vu_fatal(void *ud, const char *msg) {
  sb_vu *vu = ud;
  fprintf(stderr, "speedboat: fatal error in the JavaScript engine of VU %llu: %s\n",
          vu ? (unsigned long long)vu->id : 0ULL, msg ? msg : "(no message)");
  abort();
}

/* Writes |bytes| as people set it: "64 MiB", "1.5 GiB", or bytes. */
static void fmt_size(char *out, size_t cap, size_t bytes) {
  if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
    snprintf(out, cap, "%zu GiB", bytes >> 30);
  else if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
    snprintf(out, cap, "%zu MiB", bytes >> 20);
  else if (bytes >= (1u << 20))
    snprintf(out, cap, "%.1f MiB", (double)bytes / (1 << 20));
  else
    snprintf(out, cap, "%zu bytes", bytes);
}

/* When the job that just failed had an allocation refused for the heap limit, says so in front of
 * the script's own error (Duktape's "RangeError: alloc failed" alone does not tell a person what
 * ran out) and collects the garbage the job left, so the next one starts below the limit. */
static void limit_note(sb_vu *vu, sb_err *err) {
  if (!vu->hit_limit) return;
  char lim[32];
  fmt_size(lim, sizeof(lim), vu->limit);
  sb_err_prefix(err, "VU %llu: heap limit %s exceeded (maxVUMemory): ",
                (unsigned long long)vu->id, lim);
}

/* Collects the heap when it outgrew its last collection (or |always|). */
static void collect(sb_vu *vu, int always) {
  if (vu->heap) {
    sb_vu_heap_collect(vu, always);
  } else if (always || vu->heap_bytes > vu->gc_at) {
    duk_gc(vu->ctx, 0);
    vu->gc_at = vu->heap_bytes + vu->heap_bytes / 4 + VU_GC_SLACK;
  }
}

static void limit_reset(sb_vu *vu) {
  if (!vu->hit_limit) return;
  vu->hit_limit = 0;
  collect(vu, 1);
}

/* --- globals and modules ----------------------------------------------------------------- */

static int builtin(duk_context *ctx, const char *name, void *ud) {
  return sb_js_module_push(ctx, name, 0);
}

/* open(path[, "b"]) in the init context: a file the controller put in the archive (k6 reads it
 * from disk; here nothing after compile touches the file system), as a string or (mode "b") an
 * ArrayBuffer. Each VU gets its own copy, as in k6. */
static duk_ret_t js_open(duk_context *ctx) {
  sb_vu *vu = sb_vu_from_ctx(ctx);
  const char *arg = duk_require_string(ctx, 0);
  const char *mode = duk_get_string_default(ctx, 1, "");
  char base[4096], url[4096], name[4200];
  sb_err err;
  err.msg[0] = '\0';
  if (!vu || vu->busy)
    return duk_error(ctx, DUK_ERR_ERROR, "open() can only be called in the init context");
  sb_jsmod_caller_url(ctx, base, sizeof(base), sb_program_entry(vu->env.prog));
  if (sb_jsmod_open_url(base, arg, url, sizeof(url), &err) != 0)
    return duk_error(ctx, DUK_ERR_ERROR, "open(\"%s\"): %s", arg, err.msg);
  const sb_archive_file *f = NULL;
  if (vu->env.files && sb_modpath_to_archive(url, 0, name, sizeof(name)) == 0)
    f = sb_archive_get(vu->env.files, name);
  if (!f)
    return duk_error(ctx, DUK_ERR_ERROR, "open(\"%s\"): %s is not in the test's archive", arg,
                     sb_modpath_file_path(url) ? sb_modpath_file_path(url) : url);
  if (strchr(mode, 'b')) {
    void *p = duk_push_fixed_buffer(ctx, f->len);
    if (f->len) memcpy(p, f->data, f->len);
    duk_push_buffer_object(ctx, -1, 0, f->len, DUK_BUFOBJ_ARRAYBUFFER);
  } else {
    duk_push_lstring(ctx, (const char *)f->data, f->len);
  }
  return 1;
}

/* duk_safe_call body: the sandboxed globals and the module loader. [ ] -> [ ] */
static duk_ret_t setup_safe(duk_context *ctx, void *udata) {
  sb_vu *vu = udata;
  duk_push_global_object(ctx);
  duk_del_prop_string(ctx, -1, "print");
  duk_del_prop_string(ctx, -1, "alert");
  duk_push_object(ctx);
  for (const char *const *e = vu->env.env; e && e[0] && e[1]; e += 2) {
    duk_push_string(ctx, e[1]);
    duk_put_prop_string(ctx, -2, e[0]);
  }
  duk_put_prop_string(ctx, -2, "__ENV");
  duk_push_number(ctx, (double)vu->id);
  duk_put_prop_string(ctx, -2, "__VU");
  duk_push_number(ctx, 0);
  duk_put_prop_string(ctx, -2, "__ITER");
  sb_duk_put_light(ctx, "open", js_open, DUK_VARARGS, 0);
  duk_pop(ctx);
  sb_js_console_register(ctx);
  sb_js_timers_register(ctx);
  sb_js_textcodec_register(ctx);
  if (sb_jsmod_install(ctx, vu->env.prog, builtin, vu) != 0)
    (void)duk_error(ctx, DUK_ERR_ERROR, "out of memory installing modules");
  return 0;
}

static void run_init_code(sb_vu *vu);

/* duk_safe_call body: the Promise jobs init code queued. */
static duk_ret_t loop_init_safe(duk_context *ctx, void *udata) {
  sb_vu_loop_init(ctx, udata);
  return 0;
}

/* Init job, timed by the watchdog (env.init_timeout_us): the module's code may never end, and
 * nothing else on this thread runs until it does. */
static void run_init(sb_vu *vu) {
  int armed = vu->env.init_timeout_us > 0 &&
              sb_watchdog_arm(&vu->wd, &vu->udata.interrupt, vu->env.init_timeout_us) == 0;
  run_init_code(vu);
  if (armed && sb_watchdog_disarm(&vu->wd) && vu->init_rc != 0) {
    sb_err_prefix(vu->init_err, "VU %llu: init code still running after %g s (initTimeout), "
                  "stopped: ", (unsigned long long)vu->id, (double)vu->env.init_timeout_us / 1e6);
  }
  vu->udata.interrupt = 0;
  if (vu->init_rc != 0) limit_note(vu, vu->init_err);
}

/* Init: globals, then the entry module. Leaves [ exports undefined ] on success. */
static void run_init_code(sb_vu *vu) {
  duk_context *ctx = vu->ctx;
  if (duk_safe_call(ctx, setup_safe, vu, 0, 1) != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, vu->init_err);
    duk_pop(ctx);
    vu->init_rc = SB_ENOMEM;
    return;
  }
  duk_pop(ctx);
  vu->init_rc = sb_jsmod_run_entry(ctx, vu->init_err); /* -> [ exports ] */
  if (vu->init_rc == 0 && duk_safe_call(ctx, loop_init_safe, vu, 0, 1) != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, vu->init_err);
    duk_pop_2(ctx);
    vu->init_rc = SB_ESCRIPT;
  } else if (vu->init_rc == 0) {
    duk_pop(ctx);
  }
  vu->gc_at = vu->heap_bytes + vu->heap_bytes / 4 + VU_GC_SLACK;
  if (vu->init_rc == 0) {
    duk_push_undefined(ctx); /* -> [ exports fn ] */
    duk_push_undefined(ctx); /* -> [ exports fn data ] */
  }
}

/* --- iterations -------------------------------------------------------------------------- */

/* duk_safe_call body: [ fn data ] -> [ result ]. */
static duk_ret_t iter_safe(duk_context *ctx, void *udata) {
  sb_vu *vu = udata;
  duk_push_number(ctx, (double)vu->it.iteration);
  duk_put_global_string(ctx, "__ITER");
  duk_call(ctx, 1);
  sb_vu_loop_run(ctx, vu);
  return 1;
}

static void log_text(sb_vu *vu, const char *level, const char *text) {
  if (vu->env.log) vu->env.log(level, NULL, text, strlen(text), vu->env.log_ud);
}

/* duk_safe_call body: [ ] -> [ value ] from the JSON text |udata| (pushed in here: a string too
 * large for the heap limit must throw inside the protected call). */
static duk_ret_t decode_safe(duk_context *ctx, void *udata) {
  duk_push_string(ctx, udata);
  duk_json_decode(ctx, -1);
  return 1;
}

/* Parses env.data_json into value stack index 2, once per VU (on its first iteration, so the
 * owner may set it after creating the VU). Bad JSON is logged and leaves the data undefined. */
static void load_data(sb_vu *vu) {
  duk_context *ctx = vu->ctx;
  const char *json = vu->env.data_json ? *vu->env.data_json : NULL;
  vu->data_ready = 1;
  if (!json) return;
  if (duk_safe_call(ctx, decode_safe, (void *)json, 0, 1) != DUK_EXEC_SUCCESS) { /* -> [ ... v ] */
    sb_err err;
    err.msg[0] = '\0';
    sb_jsmod_format_error(ctx, -1, &err);
    sb_err_prefix(&err, "the data setup() returned cannot be parsed: ");
    limit_note(vu, &err);
    log_text(vu, "error", err.msg);
    duk_pop(ctx);
    return;
  }
  duk_replace(ctx, 2);
}

static void run_iter(sb_vu *vu) {
  duk_context *ctx = vu->ctx;
  if (!vu->data_ready) load_data(vu);
  duk_dup(ctx, 1);
  duk_dup(ctx, 2);
  int rc = duk_safe_call(ctx, iter_safe, vu, 2, 1); /* -> [ exports fn data result ] */
  if (vu->udata.interrupt || (vu->udata.stop && atomic_load(vu->udata.stop))) {
    vu->result = SB_VU_INTERRUPTED;
  } else if (rc != DUK_EXEC_SUCCESS) {
    sb_err err;
    err.msg[0] = '\0';
    sb_jsmod_format_error(ctx, -1, &err);
    limit_note(vu, &err);
    log_text(vu, "error", err.msg);
    vu->result = SB_VU_EXCEPTION;
  } else {
    vu->result = SB_VU_OK;
  }
  duk_pop(ctx);
  vu->udata.interrupt = 0; /* only now: the pcall has returned */
  sb_vu_loop_end(ctx, vu);
  const sb_tagset *t = vu->env.metrics ? sb_vu_tags(vu) : NULL;
  if (t && vu->result != SB_VU_INTERRUPTED) {
    sb_metrics_add(vu->env.metrics, SB_M_ITERATIONS, t, 1);
    sb_metrics_add(vu->env.metrics, SB_M_ITERATION_DURATION, t, now_ms() - vu->t0_ms);
  }
  limit_reset(vu);
  collect(vu, 0); /* after the measurement: not the script's time */
}

/* duk_safe_call body: [ callee ] -> [ json-or-undefined ]: the call, its argument parsed from
 * JSON, its return value encoded to JSON (a value JSON cannot hold throws a TypeError). */
static duk_ret_t call_safe(duk_context *ctx, void *udata) {
  sb_vu *vu = udata;
  if (vu->call_arg) {
    duk_push_string(ctx, vu->call_arg);
    duk_json_decode(ctx, -1);
  } else {
    duk_push_undefined(ctx);
  }
  duk_call(ctx, 1); /* -> [ result ] */
  sb_vu_loop_run(ctx, vu);
  if (!duk_is_undefined(ctx, -1)) duk_json_encode(ctx, -1);
  return 1;
}

/* Runs the call at value stack index 3 and keeps its outcome in call_json / call_err. Counts no
 * iteration; the samples it makes carry the call's group. */
static void run_call(sb_vu *vu) {
  duk_context *ctx = vu->ctx;
  int rc = duk_safe_call(ctx, call_safe, vu, 1, 1); /* [ exports fn data callee ] -> [ ... r ] */
  pthread_mutex_lock(&vu->call_mu);
  vu->call_running = 0; /* no other thread sets the flag from here on */
  int interrupted = vu->udata.interrupt;
  pthread_mutex_unlock(&vu->call_mu);
  if (interrupted) {
    vu->result = SB_VU_INTERRUPTED;
  } else if (rc != DUK_EXEC_SUCCESS) {
    sb_jsmod_format_error(ctx, -1, vu->call_err);
    limit_note(vu, vu->call_err);
    vu->result = SB_VU_EXCEPTION;
  } else if (duk_is_string(ctx, -1)) {
    vu->call_json = strdup(duk_get_string(ctx, -1));
    vu->result = SB_VU_OK;
    if (!vu->call_json) {
      sb_err_set(vu->call_err, SB_ENOMEM, "%s(): out of memory keeping its result", vu->call_fn);
      vu->result = SB_VU_EXCEPTION;
    }
  } else {
    vu->result = SB_VU_OK; /* undefined, or nothing JSON can say (a function) */
  }
  duk_pop(ctx);
  vu->udata.interrupt = 0;
  sb_vu_loop_end(ctx, vu);
  sb_vu_group_leave(vu, vu->call_group);
  limit_reset(vu);
  collect(vu, 0);
}

/* The coroutine: one job per resume, forever (freed while suspended between jobs). */
static void vu_main(sb_coro *co, void *arg) {
  sb_vu *vu = arg;
  for (;;) {
    if (vu->job == JOB_ITER)
      run_iter(vu);
    else if (vu->job == JOB_CALL)
      run_call(vu);
    vu->job_done = 1;
    sb_coro_yield(co);
  }
}

static void step(sb_vu *vu) {
  sb_vu *prev = NULL;
  vu->in_coro = 1;
  if (vu->heap) sb_vu_heap_enter(vu, &prev);
  sb_coro_resume(vu->co);
  if (vu->heap) sb_vu_heap_exit(vu, prev);
  vu->in_coro = 0;
}

/* Reports a finished call. The outcome moves to the loop's stack first: the callback may start
 * the next call on this VU. */
static void finish_call(sb_vu *vu, sb_vu_call_cb cb, void *ud) {
  char *json = vu->call_json;
  sb_err err = *vu->call_err;
  vu->call_json = NULL;
  free(vu->call_fn);
  free(vu->call_arg);
  vu->call_fn = vu->call_arg = NULL;
  int ok = vu->result == SB_VU_OK, threw = vu->result == SB_VU_EXCEPTION;
  if (cb) cb(vu, vu->result, ok ? json : NULL, threw ? err.msg : NULL, ud);
  free(json);
}

static void finish(sb_vu *vu) {
  sb_vu_iter_cb cb = vu->cb;
  sb_vu_call_cb call_cb = vu->call_cb;
  void *ud = vu->cb_ud;
  int job = vu->job;
  vu->busy = 0;
  vu->job = JOB_NONE;
  vu->cb = NULL;
  vu->call_cb = NULL;
  if (job == JOB_CALL)
    finish_call(vu, call_cb, ud);
  else if (cb)
    cb(vu, vu->result, ud);
}

static void on_done(evutil_socket_t fd, short what, void *arg) { finish(arg); }

static void cancel_pending(sb_vu *vu) {
  if (vu->timer_on) {
    event_del(&vu->ev_timer);
    vu->timer_on = 0;
  }
  if (vu->cancel) {
    sb_vu_cancel_fn fn = vu->cancel;
    vu->cancel = NULL;
    fn(vu->cancel_ud);
  }
  sb_vu_loop_cancel(&vu->loop);
}

/* A loop's timer may fire up to a tick of its coarse clock early (4 ms here): the rest is
 * waited out, so that sleep() never returns before its time, as k6's does not. */
static void on_timer(evutil_socket_t fd, short what, void *arg) {
  sb_vu *vu = arg;
  int64_t left = vu->sleep_due_us - sb_clock_mono_us();
  if (left > 0) {
    struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
    event_add(&vu->ev_timer, &tv);
    return;
  }
  vu->timer_on = 0;
  sb_vu_wake(vu);
}

/* Its own heap goes; its thread of a shared heap leaves it. */
static void drop_heap(sb_vu *vu) {
  if (vu->heap)
    sb_vu_heap_leave(vu);
  else
    duk_destroy_heap(vu->ctx);
}

int sb_vu_new(sb_vu **out, const sb_vu_env *env, uint64_t id, sb_err *err) {
  int rc = SB_ENOMEM;
  sb_vu *vu = calloc(1, sizeof(*vu));
  if (!vu) return sb_err_set(err, SB_ENOMEM, "VU %llu: out of memory", (unsigned long long)id);
  vu->env = *env;
  vu->udata.stop = env->stop;
  vu->id = id;
  snprintf(vu->vu_tag, sizeof(vu->vu_tag), "%llu", (unsigned long long)id);
  pthread_mutex_init(&vu->call_mu, NULL);
  vu->group = calloc(1, 16);
  if (!vu->group) goto fail_group;
  vu->group_cap = 16;
  if (env->mem_pool) vu->mem = sb_vu_pool_mem(env->mem_pool);
  if (env->heaps) {
    if (sb_vu_heap_join(env->heaps, vu) != 0) goto fail_heap;
  } else if (!(vu->ctx = duk_create_heap(vu_alloc, vu_realloc, vu_free_mem, vu, vu_fatal))) {
    goto fail_heap;
  }
  /* Capped only now: Duktape treats a failed allocation while it builds its built-ins as fatal. */
  vu->limit = env->heap_limit;
  if (vu->limit && vu->heap_bytes >= vu->limit) {
    rc = sb_err_set(err, SB_ENOMEM, "VU %llu: heap limit %zu bytes is below a bare heap (%zu)",
                    (unsigned long long)id, vu->limit, vu->heap_bytes);
    goto fail_coro;
  }
  event_assign(&vu->ev_done, env->base, -1, 0, on_done, vu);
  event_assign(&vu->ev_timer, env->base, -1, 0, on_timer, vu);
  /* Init cannot wait (sb_vu_wait() refuses outside iterations), so it runs on the caller's
   * stack: the coroutine and the stack pages it touches come with the first iteration or call,
   * and a VU that never runs one (an arrival-rate executor's spare VUs) never has them. */
  sb_vu *prev = NULL;
  vu->job = JOB_INIT;
  vu->init_err = err;
  if (vu->heap) sb_vu_heap_enter(vu, &prev);
  run_init(vu);
  if (vu->heap) sb_vu_heap_exit(vu, prev);
  vu->init_err = NULL;
  vu->job = JOB_NONE;
  if ((rc = vu->init_rc) != 0) goto fail_coro;
  *out = vu;
  return 0;

fail_coro:
  drop_heap(vu);
fail_heap:
  free(vu->group);
fail_group:
  if (rc == SB_ENOMEM && (!err || !err->msg[0]))
    sb_err_set(err, SB_ENOMEM, "VU %llu: out of memory", (unsigned long long)id);
  pthread_mutex_destroy(&vu->call_mu);
  free(vu);
  return rc;
}

void sb_vu_free(sb_vu *vu) {
  if (!vu) return;
  if (vu->busy) {
    vu->cb = NULL;
    vu->call_cb = NULL;
    sb_vu_interrupt(vu);
  }
  event_del(&vu->ev_done);
  cancel_pending(vu);
  if (vu->http) sb_http_client_free(vu->http);
  drop_heap(vu);
  sb_coro_free(vu->co);
  free(vu->exec);
  free(vu->call_json);
  free(vu->call_err);
  free(vu->call_fn);
  free(vu->call_arg);
  free(vu->group);
  for (size_t i = 0; i < 2 * vu->nutags; i++) free(vu->utags[i]);
  pthread_mutex_destroy(&vu->call_mu);
  free(vu);
}

/* duk_safe_call body: [ exports ] -> [ exports[name] ]. Getters may run: protected. A safe call
 * sees the caller's whole value stack, so the argument is addressed from the top. */
static duk_ret_t lookup_safe(duk_context *ctx, void *udata) {
  duk_get_prop_string(ctx, -1, udata);
  return 1;
}

/* Pushes the function exported as |name| ([ ... ] -> [ ... fn ]), or returns SB_ENOTFOUND. */
static int push_export(sb_vu *vu, const char *name) {
  duk_context *ctx = vu->ctx;
  duk_dup(ctx, 0);
  if (duk_safe_call(ctx, lookup_safe, (void *)name, 1, 1) != DUK_EXEC_SUCCESS ||
      !duk_is_function(ctx, -1)) {
    duk_pop(ctx);
    return SB_ENOTFOUND;
  }
  return 0;
}

/* Puts the function exported as |name| at value stack index 1. */
static int cache_exec(sb_vu *vu, const char *name, sb_err *err) {
  duk_context *ctx = vu->ctx;
  if (vu->exec && strcmp(vu->exec, name) == 0) return 0;
  if (push_export(vu, name) != 0)
    return sb_err_set(err, SB_ENOTFOUND,
                      "%s: the script does not export a function named \"%s\" (exec)",
                      sb_program_entry(vu->env.prog), name);
  char *copy = strdup(name);
  if (!copy) {
    duk_pop(ctx);
    return sb_err_set(err, SB_ENOMEM, "out of memory");
  }
  duk_replace(ctx, 1);
  free(vu->exec);
  vu->exec = copy;
  return 0;
}

/* The coroutine, made on the VU's first iteration or call. 0 or an error naming the VU. */
static int need_coro(sb_vu *vu, sb_err *err) {
  if (vu->co) return 0;
  int rc = sb_coro_new(&vu->co, VU_STACK, vu_main, vu, err);
  if (rc) sb_err_prefix(err, "VU %llu: ", (unsigned long long)vu->id);
  return rc;
}

/* Runs |job| on the VU's coroutine up to its first wait; a job that finished at once reports
 * from the loop (the "done" event), never from inside the caller. */
static void start_job(sb_vu *vu, int job) {
  vu->busy = 1;
  vu->job = job;
  vu->job_done = 0;
  vu->hit_limit = 0;
  vu->t0_ms = now_ms();
  if (job == JOB_ITER && vu->it.due_ms > 0 && vu->it.due_ms < vu->t0_ms) vu->t0_ms = vu->it.due_ms;
  step(vu);
  if (vu->job_done) event_active(&vu->ev_done, EV_TIMEOUT, 1);
}

int sb_vu_start_iteration(sb_vu *vu, const sb_vu_iter *it, sb_vu_iter_cb cb, void *ud, sb_err *err) {
  if (vu->busy)
    return sb_err_set(err, SB_EINVAL, "VU %llu is already running an iteration",
                      (unsigned long long)vu->id);
  int rc = need_coro(vu, err);
  if (!rc) rc = cache_exec(vu, it->exec ? it->exec : "default", err);
  if (rc) return rc;
  vu->it = *it;
  vu->iters_started++;
  vu->cb = cb;
  vu->cb_ud = ud;
  sb_js_http_iteration_start(vu); /* k6: a fresh cookie jar; noVUConnectionReuse */
  start_job(vu, JOB_ITER);
  return 0;
}

int sb_vu_call(sb_vu *vu, const char *fn, const char *arg_json, sb_vu_call_cb cb, void *ud,
               sb_err *err) {
  if (vu->busy)
    return sb_err_set(err, SB_EINVAL, "VU %llu is busy", (unsigned long long)vu->id);
  int rc = need_coro(vu, err);
  if (rc) return rc;
  if (push_export(vu, fn) != 0) /* -> [ exports fn data callee ] */
    return sb_err_set(err, SB_ENOTFOUND, "%s: the script does not export a function named \"%s\"",
                      sb_program_entry(vu->env.prog), fn);
  vu->call_fn = strdup(fn);
  vu->call_arg = arg_json ? strdup(arg_json) : NULL;
  if (!vu->call_err) vu->call_err = malloc(sizeof(*vu->call_err));
  if (!vu->call_fn || (arg_json && !vu->call_arg) || !vu->call_err ||
      sb_vu_group_enter(vu, fn, &vu->call_group) != 0) {
    duk_pop(vu->ctx);
    free(vu->call_fn);
    free(vu->call_arg);
    vu->call_fn = vu->call_arg = NULL;
    return sb_err_set(err, SB_ENOMEM, "%s(): out of memory", fn);
  }
  vu->call_err->msg[0] = '\0';
  pthread_mutex_lock(&vu->call_mu);
  vu->call_running = 1;
  pthread_mutex_unlock(&vu->call_mu);
  vu->it = (sb_vu_iter){.exec = NULL, .scenario = NULL, .iteration = 0};
  vu->call_cb = cb;
  vu->cb_ud = ud;
  start_job(vu, JOB_CALL);
  return 0;
}

void sb_vu_call_interrupt_async(sb_vu *vu) {
  pthread_mutex_lock(&vu->call_mu);
  if (vu->call_running) vu->udata.interrupt = 1;
  pthread_mutex_unlock(&vu->call_mu);
}

void sb_vu_interrupt(sb_vu *vu) {
  if (!vu->busy) return;
  if (vu->in_coro) { /* from a binding of this very VU: unwinds once control is back in JS */
    vu->udata.interrupt = 1;
    cancel_pending(vu);
    return;
  }
  if (!vu->job_done) {
    vu->udata.interrupt = 1;
    cancel_pending(vu);
    while (!vu->job_done) step(vu); /* sb_vu_wait() no longer suspends: one step suffices */
    vu->result = SB_VU_INTERRUPTED;
  } else {
    event_del(&vu->ev_done); /* finished already: report it as it ended */
  }
  vu->udata.interrupt = 0;
  finish(vu);
}

int sb_vu_wait(sb_vu *vu) {
  if (!vu->in_coro || (vu->job != JOB_ITER && vu->job != JOB_CALL) || vu->udata.interrupt) {
    cancel_pending(vu);
    return SB_ECANCELED;
  }
  vu->waiting = 1;
  sb_coro_yield(vu->co);
  vu->waiting = 0;
  vu->cancel = NULL;
  return vu->udata.interrupt ? SB_ECANCELED : 0;
}

void sb_vu_wake(sb_vu *vu) {
  if (!vu->waiting || vu->in_coro) return;
  step(vu);
  if (vu->job_done && vu->busy) event_active(&vu->ev_done, EV_TIMEOUT, 1);
}

void sb_vu_set_cancel(sb_vu *vu, sb_vu_cancel_fn fn, void *ud) {
  vu->cancel = fn;
  vu->cancel_ud = ud;
}

int sb_vu_sleep(sb_vu *vu, double ms) {
  if (vu->udata.interrupt) return SB_ECANCELED;
  if (!(ms > 0)) return 0;
  struct timeval tv;
  tv.tv_sec = (time_t)(ms / 1000);
  tv.tv_usec = (suseconds_t)((ms - (double)tv.tv_sec * 1000) * 1000);
  vu->sleep_due_us = sb_clock_mono_us() + (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
  event_add(&vu->ev_timer, &tv);
  vu->timer_on = 1;
  return sb_vu_wait(vu);
}

const sb_vu_iter *sb_vu_current_iter(const sb_vu *vu) {
  return vu->job == JOB_ITER ? &vu->it : NULL;
}

/* The running iteration counts as started: its own number is one less. */
uint64_t sb_vu_iterations(const sb_vu *vu) { return vu->iters_started; }

int sb_vu_busy(const sb_vu *vu) { return vu->busy; }
uint64_t sb_vu_id(const sb_vu *vu) { return vu->id; }
size_t sb_vu_heap_bytes(const sb_vu *vu) { return vu->heap_bytes; }
duk_context *sb_vu_ctx(sb_vu *vu) { return vu->ctx; }
struct event_base *sb_vu_base(sb_vu *vu) { return vu->env.base; }
sb_metrics *sb_vu_metrics(sb_vu *vu) { return vu->env.metrics; }
const sb_vu_env *sb_vu_get_env(sb_vu *vu) { return &vu->env; }
const char *sb_vu_scenario(const sb_vu *vu) { return vu->it.scenario ? vu->it.scenario : ""; }
const char *sb_vu_group(const sb_vu *vu) { return vu->group; }

sb_vu *sb_vu_from_ctx(duk_context *ctx) {
  duk_memory_functions mf;
  duk_get_memory_functions(ctx, &mf);
  return mf.alloc_func == vu_alloc ? mf.udata : sb_vu_heap_vu_of(&mf, ctx);
}

sb_http_client *sb_vu_http_if_any(sb_vu *vu) { return vu->http; }
void sb_vu_note_http(sb_vu *vu) { vu->http_imported = 1; }

static duk_ret_t warm_safe(duk_context *ctx, void *ud) {
  sb_js_http_warm(ctx, ud);
  return 0;
}

void sb_vu_warm(sb_vu *vu) {
  if (!vu->http_imported) return;
  duk_safe_call(vu->ctx, warm_safe, vu, 0, 1);
  duk_pop(vu->ctx); /* undefined, or the error: the first request meets it again */
}
sb_vu_loop *sb_vu_get_loop(sb_vu *vu) { return &vu->loop; }
int sb_vu_in_call(const sb_vu *vu) {
  return vu->in_coro && (vu->job == JOB_ITER || vu->job == JOB_CALL) && !vu->job_done;
}
void **sb_vu_http_state(sb_vu *vu) { return &vu->http_state; }

sb_http_client *sb_vu_http(sb_vu *vu) {
  if (!vu->http && sb_http_client_new(&vu->http, vu->env.base, vu->env.http) != 0) vu->http = NULL;
  return vu->http;
}
