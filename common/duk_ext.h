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

#endif
