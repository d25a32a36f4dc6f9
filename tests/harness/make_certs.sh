#!/usr/bin/env bash
# Generates throw-away certificates for TLS / mutual TLS tests into DIR with openssl:
#   ca.pem ca.key                  a test CA
#   server.pem server.key          server certificate signed by the CA,
#                                  SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   client.pem client.key          client certificate signed by the CA,
#                                  subject CN=protean-admin-test-client,O=protean-admin-tests
#   other-ca.pem other-ca.key      an unrelated CA
#   other-client.pem other-client.key   a client certificate signed by the unrelated CA
# Usage: make_certs.sh DIR   (DIR is created; existing files are overwritten)
set -euo pipefail

dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=2
umask 077

ca() {  # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -keyout "$1.key" -out "$1.pem" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # name subject ca extensions
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$1.key" -out "$1.csr" -subj "$2" \
    2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
    -days "$days" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=protean-admin test CA/O=protean-admin-tests"
ca other-ca "/CN=unrelated test CA/O=elsewhere"
leaf server "/CN=localhost/O=protean-admin-tests" ca \
  "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
leaf client "/CN=protean-admin-test-client/O=protean-admin-tests" ca "$client_ext"
leaf other-client "/CN=intruder/O=elsewhere" other-ca "$client_ext"
rm -f ./*.srl
# Readable by the (possibly unprivileged) test processes that use them.
chmod 644 ./*.pem
chmod 600 ./*.key
