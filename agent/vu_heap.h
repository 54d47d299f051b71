/* Shared VU heaps: up to a few hundred VUs of one worker in one Duktape heap.
 *
 * A Duktape heap with its built-ins (~600 strings, ~120 objects) costs ~55 KB before a script
 * has run; a heap per VU makes that most of a VU's memory, and the fresh memory is most of what
 * starting 100,000 VUs costs on a VM. Here the VUs of a worker are Duktape threads of shared
 * heaps (sb_duk_push_vu_thread()): each VU has its own global object, global environment, stash,
 * value stack and coroutine; the built-in objects, the interned strings and the compiled module
 * code (sb_jsmod, rebound per VU) exist once per heap.
 *
 * What a script can tell: the built-in objects (Array.prototype, Math, JSON, ...) are shared by
 * the VUs of a heap, so a property a VU adds to one of them is seen by the others of its heap
 * (k6 gives each VU its own). Globals, modules and everything else stay per VU. With
 * SB_VU_HEAP=1 in the environment every VU has a heap of its own again.
 *
 * maxVUMemory: a heap counts each block against the VU that runs when it is made or freed, and
 * after each collection of the heap scales the VUs' counts to what the heap holds (cyclic garbage
 * is freed by collections that run for several VUs at once), so a VU's figure is its share.
 *
 * A heap is collected as a whole (mark-and-sweep walks every VU of it), after an iteration or a
 * call that leaves it 25% larger than after the last collection; its size bounds that pause.
 * Not thread-safe: a worker's VUs are made, run and freed on its thread. */
#ifndef SB_VU_HEAP_H
#define SB_VU_HEAP_H

#include <stddef.h>

struct sb_vu_pool;
typedef struct sb_vu_heaps sb_vu_heaps;

/* VUs per shared heap from SB_VU_HEAP in the environment (default 128; 1 or 0: a heap per VU). */
unsigned sb_vu_heaps_wanted(void);

/* A worker's shared heaps, |per_heap| VUs each (>= 2), their memory from |pool| (NULL: malloc).
 * NULL when out of memory. */
sb_vu_heaps *sb_vu_heaps_new(unsigned per_heap, struct sb_vu_pool *pool);

/* Frees what is left (every VU must have been freed). Accepts NULL. */
void sb_vu_heaps_free(sb_vu_heaps *hs);

#endif
