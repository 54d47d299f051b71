/* Static targets of a test (see targets.h). */
#include "controller/targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int add(sb_targets *t, const char *host, size_t hlen, const char *port, size_t plen) {
  char buf[300];
  if (hlen == 0 || hlen > 253 || plen > 5 || t->n >= SB_TARGETS_MAX) return 0;
  snprintf(buf, sizeof(buf), "%.*s:%.*s", (int)hlen, host, (int)plen, port);
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->v[i], buf)) return 0;
  if (!(t->v[t->n] = strdup(buf))) return SB_ENOMEM;
  t->n++;
  return 0;
}

/* Parses the URL at |p| ("http://..." or "https://..."): adds its host:port unless the host is
 * not written out (a template placeholder). */
static int parse_url(sb_targets *t, const char *p, const char *end) {
  int tls = p[4] == 's';
  p += tls ? 8 : 7;
  const char *h = p, *he;
  if (p < end && *p == '[') {
    he = memchr(p, ']', (size_t)(end - p));
    if (!he) return 0;
    he++;
  } else {
    he = p;
    while (he < end && (strchr(".-_", *he) || (*he >= '0' && *he <= '9') ||
                        ((*he | 32) >= 'a' && (*he | 32) <= 'z')))
      he++;
  }
  const char *q = he, *port = tls ? "443" : "80";
  size_t plen = tls ? 3 : 2;
  if (q < end && *q == ':') {
    const char *d = ++q;
    while (q < end && *q >= '0' && *q <= '9') q++;
    if (q == d) return 0;
    port = d;
    plen = (size_t)(q - d);
  }
  if (q < end && !strchr("/?#'\"`", *q)) return 0; /* "${...}" or something we cannot read */
  return add(t, h, (size_t)(he - h), port, plen);
}

int sb_targets_scan(sb_targets *t, const char *text, size_t len) {
  const char *end = text + len;
  for (const char *p = text; p + 8 < end; p++) {
    if (*p != '"' && *p != '\'' && *p != '`') continue;
    if (strncmp(p + 1, "http://", 7) && strncmp(p + 1, "https://", 8)) continue;
    if (parse_url(t, p + 1, end)) return SB_ENOMEM;
  }
  return 0;
}

int sb_targets_collect(sb_targets *t, const sb_archive *ar, const char *const *env) {
  for (size_t i = 0; ar && i < ar->n; i++)
    if (!strncmp(ar->files[i].name, "es5/", 4) &&
        sb_targets_scan(t, (const char *)ar->files[i].data, ar->files[i].len))
      return SB_ENOMEM;
  for (size_t i = 0; env && env[2 * i]; i++) {
    const char *v = env[2 * i + 1];
    if ((!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8)) &&
        parse_url(t, v, v + strlen(v)))
      return SB_ENOMEM;
  }
  return 0;
}

void sb_targets_clear(sb_targets *t) {
  for (size_t i = 0; i < t->n; i++) free(t->v[i]);
  t->n = 0;
}

int sb_targets_apply_hosts(sb_targets *t, const sb_http_config *c) {
  char host[300], buf[320];
  for (size_t i = 0; c->nhosts && i < t->n; i++) {
    const char *colon = strrchr(t->v[i], ':');
    size_t hlen = colon ? (size_t)(colon - t->v[i]) : 0;
    if (!hlen || hlen >= sizeof(host) || t->v[i][0] == '[') continue; /* overrides name hosts */
    memcpy(host, t->v[i], hlen);
    host[hlen] = '\0';
    int port = atoi(colon + 1);
    const sb_host_override *h = sb_http_config_match_host(c, host, port);
    if (!h) continue;
    snprintf(buf, sizeof(buf), strchr(h->ip, ':') ? "[%s]:%d" : "%s:%d", h->ip,
             h->to_port ? h->to_port : port);
    char *v = strdup(buf);
    if (!v) return SB_ENOMEM;
    free(t->v[i]);
    t->v[i] = v;
  }
  return 0;
}
