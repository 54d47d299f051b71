/* k6's HTTP, TLS and DNS options — a part of controller/options (see options.h), kept apart for
 * size — parsed and validated once into the sb_http_config that Prepare ships to the agents.
 *
 * Options, as the merged layers give them (controller/config_layers.h: the script's `options`,
 * the config file, K6_* variables and the flags named here):
 *   insecureSkipTLSVerify   bool                      --insecure-skip-tls-verify
 *   tlsVersion              "tls1.2" | {min, max}     (ssl3.0 tls1.0 tls1.1 tls1.2 tls1.3)
 *   tlsCipherSuites         ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"]
 *                           Go's names, mapped to OpenSSL's (TLS 1.2 and 1.3 lists apart); a
 *                           list without a suite of one version leaves that version's default
 *   tlsAuth                 [{domains, cert, key, password?}], PEM strings read at option time
 *   hosts                   {"name": "ip", "name:port": "ip:port", "*.wild": "ip"}; the values
 *                           must be IP addresses (a host name there is refused)
 *   dns                     {ttl: "5m" | "inf" | "0", select, policy} or
 *                           "ttl=1m,select=first,policy=any"    --dns (field by field)
 *   maxRedirects            int >= 0, default 10      --max-redirects
 *   noConnectionReuse       bool                      --no-connection-reuse
 *   noVUConnectionReuse     bool                      --no-vu-connection-reuse
 *   userAgent               string, "" = none         --user-agent
 *   batch                   int > 0, default 20       --batch
 *   batchPerHost            int >= 0, default 6       --batch-per-host
 *   throw                   bool                      -w, --throw
 * and the test-wide options the VUs read with them:
 *   tags                    {"name": "value"}, at most 16, on every sample     --tag NAME=VALUE
 *   systemTags              ["method", "status", ...]: which system tags samples carry (k6's
 *                           default set unless given; "iter" is refused)       --system-tags
 *   noCookiesReset          bool: the VU's cookie jar survives its iterations
 *   blockHostnames          ["*.example.com", "host.test"]: requests there fail with
 *                           error_code 1111 before any DNS lookup              --block-hostnames
 * and, from the command line only, --tls-ca-file (else $SSL_CERT_FILE): extra trusted CAs, read
 * by the controller (sb_options_http_load_ca) so that agents never read files. */
#ifndef SB_OPTIONS_HTTP_H
#define SB_OPTIONS_HTTP_H

#include "agent/http_config.h"
#include "controller/options.h"

struct json_t;

/* Fills |c| (holding the defaults) from the merged options object |root|. Returns 0, SB_EINVAL
 * with |err| naming the option ("options.hosts.test.local: 'x' is not an IP address"), or
 * SB_ENOMEM. On failure |c| may own part of the options: the caller clears it. */
int sb_options_http_parse(sb_http_config *c, struct json_t *root, sb_err *err);

/* Appends the certificates of the PEM file |path| to c->ca_pem, after checking that each one
 * parses and that there is at least one. |what| names the source in messages ("--tls-ca-file",
 * "SSL_CERT_FILE"). Returns 0, SB_ENOTFOUND / SB_EIO (unreadable), SB_EFORMAT or SB_ENOMEM. */
int sb_options_http_load_ca(sb_http_config *c, const char *path, const char *what, sb_err *err);

#endif
