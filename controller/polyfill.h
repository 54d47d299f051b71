/* Selective polyfills: the built-ins Duktape 2.7 lacks (Map, Set, WeakMap, WeakSet, iterators
 * of arrays and strings, Array.from/of/find/includes/flat/fill/at, Object.entries/values/
 * fromEntries/getOwnPropertyDescriptors, String padStart/padEnd/trimStart/trimEnd/raw), written
 * in ES5 (controller/polyfills.js, embedded at build time) and chosen per program at compile time.
 *
 * Whole-library polyfills cost 1.5-3 MB per VU heap (DESIGN.md); these cost what a script uses
 * (docs/PERFORMANCE.md "Polyfills"). The compile step scans the ES5 of every module for the
 * names that need one (sb_polyfill_scan()), builds one prelude (sb_polyfill_build()) and stores
 * it in the archive as SB_JSMOD_PRELUDE (common/jsmod.h), which every heap runs before the entry
 * module. The scan is textual (identifiers, `.name` for methods): a name in a string or comment
 * may pull in a polyfill that is not needed, never leave out one that is. */
#ifndef SB_POLYFILL_H
#define SB_POLYFILL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef uint32_t sb_polyfill_mask; /* bit i: polyfill i (sb_polyfill_name(i)) */

/* Number of polyfills; their names ("iter", "map", "set", ...) in prelude order. */
int sb_polyfill_count(void);
const char *sb_polyfill_name(int i);
/* The bit of polyfill |name|, or 0 when unknown. */
sb_polyfill_mask sb_polyfill_bit(const char *name);

/* Adds to |*mask| the polyfills that ES5 code |code| may need. */
void sb_polyfill_scan(const char *code, size_t len, sb_polyfill_mask *mask);

/* Appends to |out| the prelude for |mask| and what it depends on: one ES5 expression statement,
 * "(function (g) {...})(this);", to run in the global scope of a heap before any module. Its
 * value is the hooks object the runtime drives Promises with (drain, reset, watch, deferred; see
 * the "promise" section of polyfills.js), empty without that section. Appends nothing for an empty
 * mask. Returns 0 or SB_ENOMEM. */
int sb_polyfill_build(sb_polyfill_mask mask, sb_buf *out);

/* Writes the names in |mask| (with dependencies) into |out| as "iter,map" ("" for none). */
void sb_polyfill_names(sb_polyfill_mask mask, char *out, size_t cap);

#endif
