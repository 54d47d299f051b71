/* Per-worker asynchronous resolver for the VUs' requests: k6's `hosts` overrides, numeric
 * addresses, "localhost", then libevent's evdns (the system's resolv.conf and hosts file), with an
 * answer cache that honours the records' TTLs and k6's `dns` option (ttl, select, policy).
 *
 * Order: a `hosts` override (exact name, then the longest "*.domain" wildcard; a "name:port"
 * entry applies to that port only and beats a plain "name"), a numeric IPv4/IPv6 address,
 * "localhost" (127.0.0.1, or ::1 under policy preferIPv6/onlyIPv6, without asking anyone), the
 * cache, /etc/hosts (read once), then evdns: an A and an AAAA query (only one of them under
 * onlyIPv4/onlyIPv6), 5 s timeout, 2 attempts unless resolv.conf's options say otherwise.
 * Names are case-insensitive.
 *
 * The cache keeps every address of a name (in the order received) for min(record TTL, dns.ttl);
 * dns.ttl < 0 keeps answers for good, 0 never (the roundRobin cursor is kept all the same). "No
 * such name" / "no address" is believed for 1 s (at most dns.ttl); a server failure or timeout is
 * not cached. At most 1,024 names, the oldest dropped first. Askers of a name whose lookup is in
 * flight share it. dns.select and dns.policy apply on every answer, cached or not.
 *
 * One sb_dns per worker thread, on that worker's event_base; every VU of the worker shares its
 * cache. Nothing blocks the loop; evdns does not keep the loop alive while idle. */
#ifndef SB_DNS_H
#define SB_DNS_H

#include <sys/socket.h>

#include "agent/http_config.h"

struct event_base;
typedef struct sb_dns sb_dns;
typedef struct sb_dns_req sb_dns_req;

/* The answer: |err| 0 and the address in |sa| (port already set to the request's port, or the
 * `hosts` override's port), or |err| < 0 (SB_ENOTFOUND: no such host / no address of the policy's
 * family; SB_EIO: resolver failure or timeout) with |sa| NULL. Called from the loop. */
typedef void (*sb_dns_cb)(int err, const struct sockaddr *sa, socklen_t salen, void *ud);

/* Creates the resolver of one worker. |cfg| (hosts, dns) is borrowed and must outlive it (it is
 * read at each call). Returns 0 or SB_ENOMEM; a machine with no resolv.conf, or one naming no
 * nameserver, still gets a resolver that answers overrides, numeric addresses, localhost and the
 * hosts file, and fails other names at once with SB_ENOTFOUND (no 127.0.0.1 is made up).
 * A `hosts` override whose address does not parse is ignored. The first call also routes
 * evdns's process-wide log: its warnings to stderr ("dns: ..."), its notes nowhere. */
int sb_dns_new(sb_dns **out, struct event_base *base, const sb_http_config *cfg);
/* Cancels every pending lookup (their callbacks are not called) and frees. Accepts NULL. May be
 * called from a resolver callback. evdns calls back once more for each query that was in flight
 * (to nobody): run the loop once (EVLOOP_NONBLOCK is enough) before event_base_free(), or those
 * few bytes leak. */
void sb_dns_free(sb_dns *d);

/* Resolves |host| (a name, a numeric IPv4/IPv6 address without brackets) for |port|.
 * When the answer is at hand (override, numeric, localhost, cached, hosts file) it is written to
 * |out|/|*outlen| and the call returns 1 with |*req| NULL — no callback (and no allocation once
 * the name is in the cache).
 * Otherwise returns 0 with |*req| set, and |cb| follows once from the loop (never from inside
 * this call; not at all once cancelled). Returns at once, with |*req| NULL: SB_ENOTFOUND for an
 * empty or over-long name, a name the cache knows to be missing or to have no address of the
 * policy's family, or any name not answered locally when no nameserver is configured;
 * SB_ENOMEM; SB_EIO when evdns refuses the query. */
int sb_dns_resolve(sb_dns *d, const char *host, int port, struct sockaddr_storage *out,
                   socklen_t *outlen, sb_dns_cb cb, void *ud, sb_dns_req **req);
/* Cancels a pending lookup: its callback is not called. |req| is invalid after this, and once
 * its callback has begun (do not cancel from the callback). Accepts NULL. The shared evdns query
 * itself goes on and fills the cache. */
void sb_dns_cancel(sb_dns_req *req);

#endif
