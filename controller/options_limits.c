/* maxVUMemory and initTimeout (controller/options_limits.h). */
#include "controller/options_limits.h"

#include <math.h>

#include "agent/limits.h"
#include "common/duration.h"

static int get_size(json_t *v, uint64_t *out, sb_err *err) {
  if (json_is_integer(v) && json_integer_value(v) > 0) {
    *out = (uint64_t)json_integer_value(v);
  } else if (json_is_number(v)) {
    double d = json_number_value(v);
    if (!isfinite(d) || d < 1 || d > 1.8e19)
      return sb_err_set(err, SB_EINVAL, "options.maxVUMemory: must be a positive number of bytes");
    *out = (uint64_t)d;
  } else if (!json_is_string(v) ||
             sb_limits_parse_size(json_string_value(v), UINT64_MAX, out) != 0) {
    return sb_err_set(err, SB_EINVAL,
                      "options.maxVUMemory: '%s' is not a size (bytes, or \"64MiB\", \"1GiB\", "
                      "\"512KiB\")", json_is_string(v) ? json_string_value(v) : "?");
  }
  if (*out < SB_OPTIONS_VU_MEMORY_MIN)
    return sb_err_set(err, SB_EINVAL, "options.maxVUMemory: must be at least 1MiB (a bare VU "
                                      "heap holds ~150 KB)");
  return 0;
}

static int get_timeout(json_t *v, int64_t *ms, sb_err *err) {
  if (json_is_string(v)) {
    if (sb_duration_parse_ms(json_string_value(v), ms, NULL) != 0)
      return sb_err_set(err, SB_EINVAL, "options.initTimeout: invalid duration '%s'",
                        json_string_value(v));
  } else if (json_is_number(v) && isfinite(json_number_value(v)) &&
             fabs(json_number_value(v)) < 9e15) {
    *ms = (int64_t)json_number_value(v);
  } else {
    return sb_err_set(err, SB_EINVAL,
                      "options.initTimeout: must be a duration string (\"60s\") or milliseconds");
  }
  if (*ms <= 0) return sb_err_set(err, SB_EINVAL, "options.initTimeout: must be more than 0");
  return 0;
}

int sb_options_limits_parse(json_t *root, uint64_t *max_vu_memory, int64_t *init_timeout_ms,
                            sb_err *err) {
  json_t *v;
  uint64_t mem = 0;
  int64_t ms = 0;
  if ((v = json_object_get(root, "maxVUMemory")) && !json_is_null(v)) {
    if (get_size(v, &mem, err)) return SB_EINVAL;
    *max_vu_memory = mem;
  }
  if ((v = json_object_get(root, "initTimeout")) && !json_is_null(v)) {
    if (get_timeout(v, &ms, err)) return SB_EINVAL;
    *init_timeout_ms = ms;
  }
  return 0;
}
