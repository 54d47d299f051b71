/* Agent lists (see agents.h). */
#include "controller/agents.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hostport.h"

static int push(sb_agent_list *l, const sb_agent_addr *a) {
  for (size_t i = 0; i < l->n; i++) /* the same address twice would run its share twice */
    if (l->v[i].salen == a->salen && memcmp(&l->v[i].sa, &a->sa, a->salen) == 0) return 1;
  sb_agent_addr *v = realloc(l->v, (l->n + 1) * sizeof(*v));
  if (!v) return SB_ENOMEM;
  l->v = v;
  l->v[l->n++] = *a;
  return 0;
}

/* Splits "host:port@w" into its parts. Returns 0 or SB_EINVAL. */
static int split_entry(const char *e, char *host, size_t hcap, char *port, size_t pcap,
                       uint32_t *weight) {
  char buf[512];
  if (strlen(e) >= sizeof(buf)) return SB_EINVAL;
  strcpy(buf, e);
  *weight = 1;
  char *at = strchr(buf, '@');
  if (at) {
    char *end;
    unsigned long w = strtoul(at + 1, &end, 10);
    if (!at[1] || *end || w == 0 || w > 1000000) return SB_EINVAL;
    *weight = (uint32_t)w;
    *at = '\0';
  }
  const char *p;
  if (sb_hostport_split(buf, host, hcap, &p) || !*p || strspn(p, "0123456789") != strlen(p) ||
      strlen(p) >= pcap || atoi(p) > 65535 || atoi(p) == 0)
    return SB_EINVAL;
  strcpy(port, p);
  return 0;
}

static int add_one(sb_agent_list *l, const char *e, const char *where, sb_err *err) {
  char host[256], port[16];
  uint32_t w;
  if (split_entry(e, host, sizeof(host), port, sizeof(port), &w))
    return sb_err_set(err, SB_EINVAL, "%s: '%s': expected HOST:PORT[@WEIGHT] (IPv6 as [ADDR]:PORT)",
                      where, e);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC}, *ai, *p;
  int rc = sb_hostport_lookup(host, port, &hints, &ai);
  if (rc)
    return sb_err_set(err, SB_ENOTFOUND, "%s: '%s': cannot resolve %s: %s", where, e, host,
                      gai_strerror(rc));
  /* One family: IPv4 when the name has any IPv4 address (localhost: 127.0.0.1, not ::1 too). */
  int fam = AF_INET6;
  for (p = ai; p; p = p->ai_next)
    if (p->ai_family == AF_INET) fam = AF_INET;
  size_t naddr = 0;
  for (p = ai; p; p = p->ai_next) naddr += p->ai_family == fam;
  struct in6_addr probe;
  struct in_addr probe4;
  int literal = inet_pton(AF_INET, host, &probe4) == 1 || inet_pton(AF_INET6, host, &probe) == 1;
  rc = 0;
  for (p = ai; p && rc >= 0; p = p->ai_next) {
    if (p->ai_family != fam) continue;
    sb_agent_addr a;
    memset(&a, 0, sizeof(a));
    memcpy(&a.sa, p->ai_addr, p->ai_addrlen);
    a.salen = p->ai_addrlen;
    a.weight = w;
    snprintf(a.host, sizeof(a.host), "%s", host);
    char ip[INET6_ADDRSTRLEN] = "?";
    const void *src = p->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr
                                                : (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr;
    inet_ntop(p->ai_family, src, ip, sizeof(ip));
    const char *br0 = strchr(host, ':') ? "[" : "", *br1 = strchr(host, ':') ? "]" : "";
    if (naddr == 1 || literal)
      snprintf(a.name, sizeof(a.name), "%s%s%s:%s", br0, host, br1, port);
    else
      snprintf(a.name, sizeof(a.name), "%s(%s):%s", host, ip, port);
    rc = push(l, &a);
  }
  freeaddrinfo(ai);
  return rc < 0 ? sb_err_set(err, SB_ENOMEM, "out of memory") : 0;
}

int sb_agents_add(sb_agent_list *l, const char *spec, const char *where, sb_err *err) {
  char *copy = strdup(spec), *save = NULL;
  if (!copy) return sb_err_set(err, SB_ENOMEM, "out of memory");
  int rc = 0, any = 0;
  for (char *tok = strtok_r(copy, ", \t", &save); tok && !rc; tok = strtok_r(NULL, ", \t", &save)) {
    any = 1;
    rc = add_one(l, tok, where, err);
  }
  free(copy);
  if (!rc && !any) rc = sb_err_set(err, SB_EINVAL, "%s: no agent given", where);
  return rc;
}

int sb_agents_add_file(sb_agent_list *l, const char *path, sb_err *err) {
  sb_buf b;
  sb_buf_init(&b);
  int rc = sb_buf_read_file(&b, path, err);
  if (rc) {
    sb_err_prefix(err, "--agents-file: ");
    sb_buf_clear(&b);
    return rc;
  }
  char *save = NULL, where[300], empty[1] = "";
  int line = 0, any = 0;
  for (char *ln = strtok_r(b.data ? b.data : empty, "\n", &save); ln && !rc; ln = strtok_r(NULL, "\n", &save)) {
    line++;
    char *hash = strchr(ln, '#');
    if (hash) *hash = '\0';
    if (strspn(ln, " \t\r,") == strlen(ln)) continue;
    for (char *p = ln; *p; p++)
      if (*p == '\r') *p = ' ';
    snprintf(where, sizeof(where), "%s:%d", path, line);
    any = 1;
    rc = sb_agents_add(l, ln, where, err);
  }
  sb_buf_clear(&b);
  if (!rc && !any) rc = sb_err_set(err, SB_EINVAL, "--agents-file %s: no agent listed", path);
  return rc;
}

void sb_agents_clear(sb_agent_list *l) {
  free(l->v);
  l->v = NULL;
  l->n = 0;
}
