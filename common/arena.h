/* A bump allocator reset in one step, for messages that are unpacked, used and dropped whole.
 *
 * The controller unpacks about one Snapshot a second per agent; protobuf-c's default allocator
 * made that ~19 mallocs per series and a free_unpacked() walk after it (a third of the merge's
 * cost). Through sb_arena_allocator() every field is a bump of a pointer, and dropping the
 * message is sb_arena_reset(). The arena grows to the largest message seen (one chunk once it has
 * seen it) and keeps at most |keep| bytes across resets, so a rare huge message is not held.
 *
 * Nothing is freed one by one: what the arena handed out lives until the next reset. An arena
 * belongs to one thread. With ASan, the unused space and a gap after every block are poisoned,
 * so an overrun is still caught. */
#ifndef SB_ARENA_H
#define SB_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define SB_ARENA_FIRST (64u << 10) /* the first chunk, unless a block needs more */

typedef struct sb_arena_chunk sb_arena_chunk;

typedef struct sb_arena {
  sb_arena_chunk *chunk;  /* the chunk blocks come from; older ones follow its |prev| */
  size_t used;            /* bytes handed out (with their padding) since the last reset */
  size_t want;            /* size of the one chunk to make after a reset that freed several */
  size_t keep;            /* most bytes of chunk kept across a reset */
  ProtobufCAllocator pb;  /* sb_arena_allocator()'s hooks, pointing back here */
} sb_arena;

/* Starts an empty arena that keeps at most |keep| bytes across resets (at least SB_ARENA_FIRST).
 * Allocates nothing until the first block. */
void sb_arena_init(sb_arena *a, size_t keep);
/* Frees every chunk; |a| may be sb_arena_init()ed again. */
void sb_arena_clear(sb_arena *a);

/* |size| bytes aligned for any type (max_align_t), valid until the next reset; NULL when out of
 * memory (the arena is then unchanged). sb_arena_alloc(a, 0) is a valid, unique pointer. */
void *sb_arena_alloc(sb_arena *a, size_t size);
/* Takes back everything handed out. Keeps one chunk of up to |keep| bytes: the one in use, or,
 * when the last round needed several, one sized for all of them (made at the next alloc). */
void sb_arena_reset(sb_arena *a);
/* Bytes handed out since the last reset. */
size_t sb_arena_used(const sb_arena *a);

/* protobuf-c's allocator hooks backed by |a| (its free does nothing): pass it to
 * protobuf_c_message_unpack() / foo__unpack(), then drop the message with sb_arena_reset(), never
 * with free_unpacked(NULL). Valid as long as |a| is. */
ProtobufCAllocator *sb_arena_allocator(sb_arena *a);

#endif
