#!/bin/sh
# Makes the Secret material of deploy/kubernetes/base (kept out of git by secrets/.gitignore):
#   secrets/token                          the shared token agents require (32 random bytes, hex)
#   secrets/ca.pem                         a CA for this load-test fleet (its key: secrets/ca.key,
#                                          not put in the cluster: keep it or delete it)
#   secrets/agent.pem, agent.key           the agents' certificate, naming the headless Service
#   secrets/controller.pem, controller.key the controller's client certificate
# Usage: deploy/kubernetes/make-secrets.sh [NAMESPACE] [DAYS]  (defaults: loadtest, 365).
# Refuses to overwrite existing material: delete secrets/* first to rotate it.
set -eu
ns=${1:-loadtest}
days=${2:-365}
cd "$(dirname "$0")/base/secrets"
[ ! -e token ] || { echo "make-secrets: $(pwd)/token exists; delete secrets/* to rotate" >&2; exit 1; }
svc=speedboat-agents
san="DNS:$svc,DNS:$svc.$ns,DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local,DNS:*.$svc.$ns.svc.cluster.local"
umask 077
cat >ext.cnf <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -config ext.cnf -x509 $EC -keyout ca.key -out ca.pem -days "$days" \
  -subj "/CN=speedboat fleet CA ($ns)" -extensions ca 2>/dev/null
for who in agent:server controller:client; do
  name=${who%%:*} ext=${who#*:}
  openssl req -config ext.cnf -new $EC -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=speedboat $name" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
    -days "$days" -extfile ext.cnf -extensions "$ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr"
done
openssl rand -hex 32 >token
rm -f ext.cnf
echo "make-secrets: wrote $(pwd): token, ca.pem, agent.pem/.key, controller.pem/.key (ca.key: keep offline)"
