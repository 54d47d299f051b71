/* Mutual TLS for controller <-> agent connections (OpenSSL under libevent's bufferevents).
 *
 * Both sides load a certificate, its key and the CA that signs the peer's certificate; each side
 * refuses a peer whose certificate the CA did not sign (the agent requires a client certificate).
 * The controller may also check that the agent's certificate names the host it dialled.
 * An sb_tls is read-only once made: share it across threads and connections. */
#ifndef SB_TLS_H
#define SB_TLS_H

#include "common/err.h"

struct event_base;
struct bufferevent;

typedef struct sb_tls sb_tls;

/* Loads |cert| and |key| (PEM files) and trusts only |ca| (PEM file) for the peer. |server| = 1
 * for the agent (accepts, requires a client certificate), 0 for the controller (connects).
 * Returns 0, SB_ENOTFOUND / SB_EIO (a file cannot be read) or SB_EFORMAT (not PEM, key does not
 * match the certificate), with |err| naming the file. */
int sb_tls_new(sb_tls **out, int server, const char *cert, const char *key, const char *ca,
               sb_err *err);
void sb_tls_free(sb_tls *t);

/* Makes a bufferevent on |base| that runs TLS over |fd| (BEV_OPT_CLOSE_ON_FREE, and
 * BEV_OPT_DEFER_CALLBACKS: the read callback sees a peer's last bytes before its EOF). For a server
 * context it accepts; for a client it connects, and |fd| may be -1 to connect later with
 * bufferevent_socket_connect(). |peer_host| (client only, may be NULL): the certificate must name
 * this host name or IP address. Returns NULL when out of memory. Handshake failures arrive as
 * BEV_EVENT_ERROR; describe them with sb_tls_describe_error(). */
struct bufferevent *sb_tls_bev_new(const sb_tls *t, struct event_base *base, int fd,
                                   const char *peer_host, int bev_opts);

/* Writes a sentence about the latest TLS failure on |bev| ("certificate verify failed: unable to
 * get local issuer certificate") into |buf|; "connection closed during the TLS handshake" when
 * OpenSSL recorded nothing. Returns |buf|. */
const char *sb_tls_describe_error(struct bufferevent *bev, char *buf, size_t len);

#endif
