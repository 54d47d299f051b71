# k6/encoding and k6/crypto in a real run: an HS256 JWT built the way k6's JWT example builds it
# (b64encode 'rawurl' + hmac 'sha256'), decoded back and verified, and digests of a string and of
# open()'d binary data — every value checked against what openssl computes here in the shell.
. "$SB_ROOT/test/e2e/lib.sh"
command -v openssl >/dev/null || fail "openssl is needed"

SECRET='s3cr3t-k3y'
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
hexof() { sed 's/^.*= *//'; } # "SHA2-256(stdin)= ab12..." -> "ab12..."

# The binary file: random bytes (invalid UTF-8 almost surely) plus every byte value once.
head -c 4000 /dev/urandom >"$WORK/data.bin"
awk 'BEGIN { for (i = 0; i < 256; i++) printf "%c", i }' </dev/null >>"$WORK/data.bin"
[ "$(wc -c <"$WORK/data.bin")" -eq 4256 ] || fail "could not write the binary file"

s=$(script jwt.js <<'JS'
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

const bin = open('./data.bin', 'b');
const SECRET = 's3cr3t-k3y';
export const options = { vus: 1, iterations: 1 };

function sign(data, secret) {
  return encoding.b64encode(crypto.hmac('sha256', secret, data, 'binary'), 'rawurl');
}

function jwt(payload, secret) {
  const header = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const body = encoding.b64encode(JSON.stringify(payload), 'rawurl');
  return header + '.' + body + '.' + sign(header + '.' + body, secret);
}

export default function () {
  const token = jwt({ sub: 'speedboat', name: 'Jos\u00e9 \ud83d\ude80', iat: 1516239022 }, SECRET);
  console.log('jwt ' + token);
  const parts = token.split('.');
  const h = crypto.createHMAC('sha256', SECRET);
  h.update(parts[0] + '.');
  h.update(parts[1]);
  console.log('verify ' + (h.digest('base64rawurl') === parts[2]));
  const payload = JSON.parse(encoding.b64decode(parts[1], 'rawurl', 's'));
  console.log('payload ' + payload.sub + ' ' + (payload.name === 'Jos\u00e9 \ud83d\ude80'));

  console.log('sha256-str ' + crypto.sha256('speedboat \u00e9', 'hex'));
  console.log('md5-str ' + crypto.md5('speedboat \u00e9', 'hex'));
  console.log('bin-len ' + bin.byteLength);
  console.log('sha256-bin ' + crypto.sha256(bin, 'hex'));
  console.log('sha512-bin ' + crypto.sha512(bin, 'base64'));
  console.log('sha1-bin ' + crypto.sha1(bin, 'hex'));
  console.log('ripemd160-bin ' + crypto.ripemd160(bin, 'hex'));
  const parted = crypto.createHash('sha256');
  parted.update(bin.slice(0, 1000));
  parted.update(new Uint8Array(bin, 1000));
  console.log('sha256-parts ' + parted.digest('hex'));
  const b64 = encoding.b64encode(bin);
  console.log('b64-bin-sha256 ' + crypto.sha256(b64, 'hex'));
  const back = encoding.b64decode(b64);
  console.log('roundtrip ' + (crypto.sha256(back, 'hex') === crypto.sha256(bin, 'hex')));
  try {
    encoding.b64decode('abc!');
  } catch (e) {
    console.log('bad-b64 ' + e.message);
  }
}
JS
)

H=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
P=$(printf '%s' '{"sub":"speedboat","name":"José 🚀","iat":1516239022}' | b64url)
SIG=$(printf '%s' "$H.$P" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)
JWT="$H.$P.$SIG"

run_sb run "$s"
expect_rc 0
has() { grep -qF -- "$1" "$WORK/err" || { show; fail "no log line with: $1"; }; }
has "jwt $JWT"
has "verify true"
has "payload speedboat true"
has "sha256-str $(printf '%s' 'speedboat é' | openssl dgst -sha256 | hexof)"
has "md5-str $(printf '%s' 'speedboat é' | openssl dgst -md5 | hexof)"
has "bin-len 4256"
has "sha256-bin $(openssl dgst -sha256 <"$WORK/data.bin" | hexof)"
has "sha512-bin $(openssl dgst -sha512 -binary <"$WORK/data.bin" | openssl base64 -A)"
has "sha1-bin $(openssl dgst -sha1 <"$WORK/data.bin" | hexof)"
has "ripemd160-bin $(openssl dgst -ripemd160 <"$WORK/data.bin" | hexof)"
has "sha256-parts $(openssl dgst -sha256 <"$WORK/data.bin" | hexof)"
has "b64-bin-sha256 $(openssl base64 -A <"$WORK/data.bin" | openssl dgst -sha256 | hexof)"
has "roundtrip true"
has "bad-b64 b64decode: illegal base64 data at input byte 3"
[ "$(metric_value iterations)" = 1 ] || { show; fail "iterations"; }
