/* Message framing on a byte stream: each protocol Envelope (proto/speedboat.proto) travels as a
 * 4-byte big-endian length followed by that many bytes of serialized Envelope (the length's top
 * bit set: the bytes are a zstd frame holding the Envelope). Used on both ends
 * of every controller<->agent connection, the in-process one included. */
#ifndef SB_FRAME_H
#define SB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/speedboat.pb-c.h"

struct evbuffer;

/* Largest frame sb_frame_recv() accepts: an archive plus its envelope. */
#define SB_FRAME_MAX (512u * 1024 * 1024)

/* What sb_frame_recv_limited() takes from a peer. The length field is checked as soon as its
 * 4 bytes are in, so a peer announcing more is refused before any of it is buffered. */
typedef struct sb_frame_limits {
  size_t max_len;    /* largest frame as it travels (the length field, without its top bit) */
  size_t max_plain;  /* largest Envelope once inflated; 0 = compressed frames are refused */
  const char *when;  /* ends the refusal's sentence: "before hello"; NULL = "" */
  const char *hint;  /* appended in parentheses: which option raises the limit; NULL = none */
} sb_frame_limits;

/* What a controller takes from an agent (issue 10): an agent sends snapshots (20,000 series:
 * 4.7 MB, 335 KB compressed) and, with --out json/csv, Points messages (measured 16 bytes a
 * point plain, 2.7 compressed; at most SB_POINTS_MAX points, ~52 MB plain at worst, a message).
 * So 64 MiB as framed and 256 MiB inflated leave a wide margin, and a broken or hostile agent
 * costs the controller at most that, refused at the header before any of it is buffered. */
#define SB_FRAME_AGENT_MAX (64u << 20)
#define SB_FRAME_AGENT_PLAIN_MAX (256u << 20)
extern const sb_frame_limits sb_frame_agent_limits;

/* Appends |env| framed to |out|. Returns 0 or SB_ENOMEM. */
int sb_frame_send(struct evbuffer *out, const Speedboat__Envelope *env);
/* Appends an already serialized Envelope (|len| bytes) framed to |out|. */
int sb_frame_send_packed(struct evbuffer *out, const uint8_t *buf, size_t len);
/* Same, zstd-compressed when that makes it smaller (frames of 512 bytes and more): the length's
 * top bit (0x80000000) marks a compressed payload. sb_frame_recv() takes either. Used for the
 * metric snapshots, whose bucket arrays compress well. */
int sb_frame_send_packed_z(struct evbuffer *out, const uint8_t *buf, size_t len);

/* Takes one whole frame out of |in| if there is one: returns 1 and sets |*env| (free with
 * speedboat__envelope__free_unpacked(env, NULL)); 0 when more bytes are needed; SB_EFORMAT when
 * the bytes are not a valid frame (too long, or not an Envelope), with |err| saying which — the
 * connection should then be closed. */
int sb_frame_recv(struct evbuffer *in, Speedboat__Envelope **env, sb_err *err);
/* The same within |lim|: a frame longer than lim->max_len, or compressed when lim->max_plain is
 * 0, or inflating past lim->max_plain, is SB_EFORMAT ("protocol error: frame of 300000000 bytes
 * exceeds the 4096-byte limit before hello") without reading its payload. sb_frame_recv()
 * is this with SB_FRAME_MAX and 256 MiB. */
int sb_frame_recv_limited(struct evbuffer *in, const sb_frame_limits *lim,
                          Speedboat__Envelope **env, sb_err *err);

/* A receiver's reusable memory, for a loop that takes many frames (the controller's, from all
 * its agents): each Envelope is unpacked into one arena (common/arena.h) instead of ~19 mallocs
 * a series, inflated with one zstd context, and dropped in one step. It keeps, across frames,
 * the memory of the largest one seen, up to SB_FRAME_RX_KEEP. Belongs to one thread. */
typedef struct sb_frame_rx sb_frame_rx;
#define SB_FRAME_RX_KEEP (32u << 20)

/* Returns 0 or SB_ENOMEM; allocates nothing more until the first frame. */
int sb_frame_rx_new(sb_frame_rx **out);
void sb_frame_rx_free(sb_frame_rx *rx);
/* sb_frame_recv_limited() into |rx|'s memory: the same frames taken and refused, with the same
 * sentences. |*env| stays valid until sb_frame_rx_done(rx, *env), which must come before the
 * next Envelope can use |rx| (one still out, or |rx| NULL: this one is malloc'ed, as
 * sb_frame_recv_limited() does; sb_frame_rx_done() tells them apart). */
int sb_frame_recv_rx(struct evbuffer *in, const sb_frame_limits *lim, sb_frame_rx *rx,
                     Speedboat__Envelope **env, sb_err *err);
/* Drops |env| from sb_frame_recv_rx(rx, ...): resets |rx|'s arena, or frees a malloc'ed one.
 * Accepts NULL. */
void sb_frame_rx_done(sb_frame_rx *rx, Speedboat__Envelope *env);

/* Convenience: frames one message of the given case. |msg| points to the message struct. */
int sb_frame_send_msg(struct evbuffer *out, Speedboat__Envelope__MsgCase c, void *msg);

#endif
