#!/bin/sh
# Makes throwaway certificates for the mutual-TLS tests in directory $1 (created if missing):
#   ca.pem                         the test CA (its key ca.key)
#   agent.pem, agent.key           the agent's certificate (SAN IP:127.0.0.1, DNS:localhost, plus
#                                  any extra SANs given after DIR, e.g. IP:10.1.2.3 DNS:agent.test)
#   controller.pem, controller.key the controller's certificate
#   other-ca.pem                   an unrelated CA (its key other-ca.key)
#   other.pem, other.key           signed by other-ca (SAN IP:127.0.0.1, DNS:localhost; server and
#                                  client use), for "wrong CA" tests on either side
# EC P-256 keys, valid for two days. Needs only the openssl command-line tool.
set -eu
[ $# -ge 1 ] || { echo "usage: gencerts.sh DIR [EXTRA-AGENT-SAN...]" >&2; exit 2; }
D=$1
shift
AGENT_SAN="IP:127.0.0.1,DNS:localhost"
for san in "$@"; do AGENT_SAN="$AGENT_SAN,$san"; done
mkdir -p "$D"
cd "$D"

# A config of our own: the system's openssl.cnf must not add or clash with extensions.
cat >ext.cnf <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $AGENT_SAN
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[both]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
CNF

EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

# ca NAME CN: a self-signed CA.
ca() {
  openssl req -config ext.cnf -x509 $EC -keyout "$1.key" -out "$1.pem" -days 2 \
    -subj "/CN=$2" -extensions ca 2>/dev/null
}

# leaf NAME CN CA EXTENSIONS: a key and a certificate signed by CA.
leaf() {
  openssl req -config ext.cnf -new $EC -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 2 -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}

ca ca "speedboat test CA"
leaf agent "speedboat test agent" ca server
leaf controller "speedboat test controller" ca client
ca other-ca "unrelated CA"
leaf other "unrelated" other-ca both
rm -f ext.cnf
chmod 600 ./*.key
