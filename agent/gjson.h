/* gjson paths (github.com/tidwall/gjson syntax, as k6's Response.json(selector) reads them)
 * evaluated on raw JSON text.
 *
 * No tree is built: the walk reads the text once, left to right, and stops at the match. A plain
 * path ("name.last", "friends.1") copies one slice of the input; only '#' counts and collections
 * and the modifiers build new text. Everything the walk reads is checked as strict JSON (RFC
 * 8259), so what comes out is valid JSON for duk_json_decode(); text after the match is not read.
 *
 * Supported: dotted keys; array indexes; '*' and '?' wildcards and '\' escapes in keys; '#' (the
 * length); 'a.#.b' (b of each element); queries '#(b==v)' (first match) and '#(b==v)#' (all)
 * with == = != < <= > >= % (like) !% (not like) on strings, numbers and booleans; value queries
 * '#(=="x")'; existence '#(b)'; '~true' '~false' '~null' '~*'; nested queries; '|' (apply the rest
 * to the previous result); a leading '..' (JSON lines); the modifiers @this @valid @reverse @ugly
 * @keys @values @flatten (shallow; arguments are read and ignored). An unknown '@name' is a key,
 * as in gjson. Refused with SB_EINVAL: multipaths ('{a,b}', '[a,b]'). Not supported: literals
 * ('!true' is read as a key) and the modifiers @pretty @join @tostr @fromstr @group @dig. */
#ifndef SB_GJSON_H
#define SB_GJSON_H

#include <stddef.h>

#include "common/buf.h"

/* Evaluates the gjson |path| on the JSON text |json|/|len|. On a match, appends the JSON text of
 * the result to |out| (a slice of the input for a plain path, a built array for # queries) and
 * returns 1; returns 0 when nothing matches; SB_EINVAL for a malformed path (an unbalanced query,
 * an unknown operator, a trailing '\', a multipath, nesting past 64 levels); SB_EFORMAT when the
 * text is not JSON where the path walks; SB_ENOMEM. On anything but 1, |out| is left as it was.
 * A plain path allocates nothing but |out|'s growth; scratch memory is taken only to decode
 * escaped keys and strings, for numbers longer than 63 bytes, for a built result that a '|' or a
 * query reads again, and for modifiers. */
int sb_gjson_get(const char *json, size_t len, const char *path, sb_buf *out);

/* 1 when |json|/|len| is exactly one JSON value with only whitespace around it (gjson.Valid),
 * else 0. k6 checks this once per response before any selector and returns undefined for an
 * invalid body even when the path would have matched: call it once and keep the answer. Nesting
 * deeper than 4096 is refused. */
int sb_gjson_valid(const char *json, size_t len);

#endif
