#!/bin/sh
# Makes throwaway certificates for the HTTPS client tests in directory $1 (created if missing):
#   ca.pem, ca.key                 the test CA clients are told to trust
#   server.pem, server.key         CN localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1 (by ca)
#   expired.pem, expired.key       the same names, by ca, but expired yesterday
#   wrong.pem, wrong.key           by ca, for "wrong.example" only (a name mismatch on loopback)
#   other-ca.pem, other-ca.key     a CA nobody trusts
#   untrusted.pem, untrusted.key   the loopback names, signed by other-ca
#   client-ca.pem, client-ca.key   the CA a server checks client certificates against
#   client.pem, client.key         a client certificate (CN speedboat test client) by client-ca
# EC P-256 keys, valid for two days (the expired one from three days ago to yesterday). Needs only
# the openssl command-line tool (OpenSSL 3.0: `openssl ca` sets past dates; no faketime).
set -eu
[ $# -eq 1 ] || { echo "usage: gencerts_http.sh DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"

# A config of our own: the system's openssl.cnf must not add or clash with extensions. The
# [tca] section is for `openssl ca`, the only way OpenSSL 3.0 writes a notAfter in the past.
cat >http-ext.cnf <<'CNF'
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
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[wrong]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[tca]
database = http-index.txt
new_certs_dir = http-newcerts
serial = http-serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
CNF

EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

# ca NAME CN: a self-signed CA.
ca() {
  openssl req -config http-ext.cnf -x509 $EC -keyout "$1.key" -out "$1.pem" -days 2 \
    -subj "/CN=$2" -extensions ca 2>/dev/null
}

# leaf NAME CN CA EXTENSIONS: a key and a certificate signed by CA.
leaf() {
  openssl req -config http-ext.cnf -new $EC -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 2 -extfile http-ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}

# expired NAME CN CA: like leaf with server names, valid from three days ago until yesterday.
expired() {
  openssl req -config http-ext.cnf -new $EC -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  : >http-index.txt
  mkdir -p http-newcerts
  openssl rand -hex 8 >http-serial
  openssl ca -batch -notext -config http-ext.cnf -name tca -cert "$3.pem" -keyfile "$3.key" \
    -in "$1.csr" -out "$1.pem" -extfile http-ext.cnf -extensions server \
    -startdate "$(date -u -d '3 days ago' +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" 2>/dev/null
  rm -rf "$1.csr" http-index.txt* http-serial* http-newcerts
}

ca ca "speedboat http test CA"
leaf server localhost ca server
expired expired localhost ca
leaf wrong wrong.example ca wrong
ca other-ca "unrelated CA"
leaf untrusted localhost other-ca server
ca client-ca "speedboat client CA"
leaf client "speedboat test client" client-ca client
rm -f http-ext.cnf
chmod 600 ./*.key
