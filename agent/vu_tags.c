/* Group path, tag sets and the VU's own tags (agent/vu.h), apart from the VU's life in
 * agent/vu.c. */
#include <stdlib.h>
#include <string.h>

#include "agent/http_client.h"
#include "agent/vu_internal.h"

int sb_vu_group_enter(sb_vu *vu, const char *name, size_t *saved) {
  size_t n = strlen(name), need = vu->group_len + 2 + n + 1;
  if (need > vu->group_cap) {
    size_t cap = vu->group_cap * 2 > need ? vu->group_cap * 2 : need;
    char *g = realloc(vu->group, cap);
    if (!g) return SB_ENOMEM;
    vu->group = g;
    vu->group_cap = cap;
  }
  *saved = vu->group_len;
  memcpy(vu->group + vu->group_len, "::", 2);
  memcpy(vu->group + vu->group_len + 2, name, n + 1);
  vu->group_len += 2 + n;
  vu->tags = NULL;
  return 0;
}

void sb_vu_group_leave(sb_vu *vu, size_t saved) {
  vu->group_len = saved;
  vu->group[saved] = '\0';
  vu->tags = NULL;
}

/* The test's options the VU reads for its tags (options.tags, systemTags), or NULL. */
static const sb_http_config *test_config(const sb_vu *vu) {
  return vu->env.http ? sb_http_shared_config(vu->env.http) : NULL;
}

const sb_tagset *sb_vu_tags(sb_vu *vu) {
  if (vu->tags && vu->tags_scenario == vu->it.scenario) return vu->tags;
  if (!vu->env.metrics) return NULL;
  const sb_http_config *c = test_config(vu);
  unsigned st = c ? c->system_tags : SB_TAG_DEFAULTS;
  const char *kv[2 * (3 + SB_HTTP_MAX_TEST_TAGS + SB_VU_MAX_TAGS)];
  size_t n = 0;
  if (st & SB_TAG_GROUP) kv[n++] = "group", kv[n++] = vu->group;
  if (vu->it.scenario && (st & SB_TAG_SCENARIO)) kv[n++] = "scenario", kv[n++] = vu->it.scenario;
  n = sb_vu_tags_overlay(vu, kv, n, sizeof(kv) / sizeof(kv[0]));
  vu->tags = sb_metrics_tags(vu->env.metrics, kv, n / 2);
  vu->tags_scenario = vu->it.scenario;
  return vu->tags;
}

int sb_vu_tag_set(sb_vu *vu, const char *key, const char *value) {
  size_t i = 0;
  while (i < vu->nutags && strcmp(vu->utags[2 * i], key) != 0) i++;
  if (i == vu->nutags && i == SB_VU_MAX_TAGS) return SB_EINVAL;
  char *v = strdup(value), *k = i == vu->nutags ? strdup(key) : NULL;
  if (!v || (i == vu->nutags && !k)) {
    free(v);
    free(k);
    return SB_ENOMEM;
  }
  if (i == vu->nutags) {
    vu->utags[2 * i] = k;
    vu->nutags++;
  } else {
    free(vu->utags[2 * i + 1]);
  }
  vu->utags[2 * i + 1] = v;
  vu->tags = NULL;
  return 0;
}

void sb_vu_tag_del(sb_vu *vu, const char *key) {
  for (size_t i = 0; i < vu->nutags; i++) {
    if (strcmp(vu->utags[2 * i], key) != 0) continue;
    free(vu->utags[2 * i]);
    free(vu->utags[2 * i + 1]);
    vu->nutags--;
    vu->utags[2 * i] = vu->utags[2 * vu->nutags];
    vu->utags[2 * i + 1] = vu->utags[2 * vu->nutags + 1];
    vu->tags = NULL;
    return;
  }
}

size_t sb_vu_tag_pairs(const sb_vu *vu, const char *const **kv) {
  *kv = (const char *const *)vu->utags;
  return vu->nutags;
}

/* Sets |key| to |value| in the |n| strings of |kv| when |over| or when |key| is not there yet;
 * appends when there is room. Returns the new count. */
static size_t kv_put(const char **kv, size_t n, size_t cap, const char *key, const char *value,
                     int over) {
  size_t k = 0;
  while (k < n && strcmp(kv[k], key) != 0)
    k += 2;
  if (k < n && !over) return n;
  if (k == n) {
    if (n + 2 > cap) return n;
    n += 2;
  }
  kv[k] = key;
  kv[k + 1] = value;
  return n;
}

/* Drops the pairs whose key is a system tag that |enabled| leaves out (systemTags). */
static size_t drop_system_tags(const char **kv, size_t n, unsigned enabled) {
  size_t out = 0;
  for (size_t i = 0; i < n; i += 2) {
    unsigned bit = sb_system_tag_bit(kv[i]);
    if (bit && !(bit & enabled)) continue;
    kv[out] = kv[i];
    kv[out + 1] = kv[i + 1];
    out += 2;
  }
  return out;
}

/* What every sample carries beyond the caller's system tags, in k6's order of precedence: the
 * caller's tags without the system tags systemTags leaves out, then the "vu" system tag and the
 * test-wide tags (options.tags, --tag) where the caller has no such key, then the VU's own tags
 * (exec.vu.tags) over everything. */
size_t sb_vu_tags_overlay(const sb_vu *vu, const char **kv, size_t n, size_t cap) {
  const char *const *t;
  const sb_http_config *c = test_config(vu);
  if (c) {
    if ((c->system_tags & SB_TAG_DEFAULTS) != SB_TAG_DEFAULTS)
      n = drop_system_tags(kv, n, c->system_tags);
    if (c->system_tags & SB_TAG_VU) n = kv_put(kv, n, cap, "vu", vu->vu_tag, 0);
    for (size_t i = 0; i < 2 * c->ntags; i += 2)
      n = kv_put(kv, n, cap, c->tags[i], c->tags[i + 1], 0);
  }
  size_t pairs = sb_vu_tag_pairs(vu, &t);
  for (size_t i = 0; i < 2 * pairs; i += 2)
    n = kv_put(kv, n, cap, t[i], t[i + 1], 1);
  return n;
}
