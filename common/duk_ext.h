/* Functions Speedboat adds to Duktape (scripts/duktape-*.patch, compiled into duktape.c). */
#ifndef SB_DUK_EXT_H
#define SB_DUK_EXT_H

#include "duktape.h"

/* The own enumerable properties of the plain object at |idx| in for-in order, without the
 * enumerator object duk_enum() makes. |*pos| starts at 0. Returns 1 and pushes [ key value ],
 * 0 at the end, or -1 (only at *pos 0, nothing pushed) when the object is not a plain object of
 * string-keyed data properties: use duk_enum() then. */
duk_int_t sb_duk_own_next(duk_context *ctx, duk_idx_t idx, duk_uint_t *pos);

/* duk_push_object() with room for |n| properties: an object built from C with a known number of
 * properties is allocated once instead of growing 0 -> 2 -> 4 -> 6 ... */
duk_idx_t sb_duk_push_object_sized(duk_context *ctx, duk_uint_t n);

/* [ ... key value ] -> [ ... ]: defines an own data property, writable, enumerable and
 * configurable, on the object at |obj_idx| (as Object.defineProperty would), without [[Set]]'s
 * lookup up the prototype chain, several times the cost for an object whose prototype has
 * methods and accessors. For objects built from C: where the prototype has a setter of that
 * name, the setter is not called. */
void sb_duk_put_own(duk_context *ctx, duk_idx_t obj_idx);

/* [ ... obj ] -> [ ... obj ]: obj[name] = a light function (a tagged pointer, no heap object:
 * what every VU's copy of a module would otherwise allocate per function). Such a function has
 * no own properties (.name is "light_<ptr>_<flags>", .length is |nargs| or 0 for DUK_VARARGS)
 * and cannot be given any; |nargs| 0..14 or DUK_VARARGS, |magic| -128..127. */
static inline void sb_duk_put_light(duk_context *ctx, const char *name, duk_c_function fn,
                                    duk_int_t nargs, duk_int_t magic) {
  duk_push_c_lightfunc(ctx, fn, nargs, nargs == DUK_VARARGS ? 0 : nargs, magic);
  duk_put_prop_string(ctx, -2, name);
}

/* VUs sharing one heap (agent/vu_group.c; scripts/duktape-sb-vu-thread.patch). */

/* [ ... ] -> [ ... thread ]: a thread that shares |ctx|'s built-ins and has a global object of
 * its own (inheriting |ctx|'s, so the built-ins are found through it), its own global
 * environment and its own global stash. */
void sb_duk_push_vu_thread(duk_context *ctx);

/* The heap's state of one chain of calls (which thread runs, where an error unwinds to, the C
 * recursion depth). A VU's coroutine may suspend mid-call while another VU of the heap runs: the
 * state is swapped in when its coroutine resumes and out when it yields. Zeroed: idle. */
typedef struct sb_duk_exec {
  void *curr_thread;
  void *jmpbuf;
  long depth;
} sb_duk_exec;
/* Exchanges the heap's chain state with |*st|. */
void sb_duk_exec_swap(duk_context *ctx, sb_duk_exec *st);

/* [ ... ] -> [ ... closure ]: a new closure of the compiled function at |idx| (a function of the
 * same heap, from any of its threads) over |ctx|'s global environment: code compiled or loaded
 * once serves every VU, each with its own globals. */
void sb_duk_push_rebound(duk_context *ctx, duk_idx_t idx);

#endif
