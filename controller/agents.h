/* The agent list of a distributed run: `--agents host:port,...` and `--agents-file FILE`.
 *
 * Each entry is HOST:PORT (IPv6 as [ADDR]:PORT), optionally followed by @WEIGHT (a positive
 * integer, default 1) that sizes its execution segment. A host name that resolves to several
 * addresses (a Kubernetes headless Service) becomes one agent per address (IPv4 ones when it has
 * any, so "localhost" is one agent). In a file, one entry
 * per line (or comma-separated); blank lines and text after '#' are ignored. */
#ifndef SB_AGENTS_H
#define SB_AGENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

typedef struct sb_agent_addr {
  char name[300];                 /* "host:port", or "host(addr):port" for one of many */
  char host[256];                 /* as written, for TLS host checks */
  struct sockaddr_storage sa;
  socklen_t salen;
  uint32_t weight;
} sb_agent_addr;

typedef struct sb_agent_list {
  sb_agent_addr *v;
  size_t n;
} sb_agent_list;

/* Parses |spec| (comma-separated entries) and resolves every host, appending to |l|. |where|
 * names the source in errors ("--agents", "agents.txt:3"). Returns 0, SB_EINVAL (bad entry) or
 * SB_ENOTFOUND (a name does not resolve), with |err| naming the entry. */
int sb_agents_add(sb_agent_list *l, const char *spec, const char *where, sb_err *err);
/* Reads entries from |path| (see above). */
int sb_agents_add_file(sb_agent_list *l, const char *path, sb_err *err);
void sb_agents_clear(sb_agent_list *l);

#endif
