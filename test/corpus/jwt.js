import http from 'k6/http';
import { check } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };

const SECRET = __ENV.JWT_SECRET || 'corpus-secret';

function b64url(obj) { return encoding.b64encode(JSON.stringify(obj), 'rawurl'); }

export function sign(claims, secret) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const body = b64url(claims);
  const sig = crypto.hmac('sha256', secret, `${head}.${body}`, 'base64rawurl');
  return `${head}.${body}.${sig}`;
}

export function verify(token, secret) {
  const [head, body, sig] = token.split('.');
  const good = crypto.hmac('sha256', secret, `${head}.${body}`, 'base64rawurl') === sig;
  return good ? JSON.parse(encoding.b64decode(body, 'rawurl', 's')) : null;
}

export default function () {
  const token = sign({ sub: 'user-42', iat: 1700000000, scope: ['read', 'write'], name: 'Zoë' }, SECRET);
  const res = http.get(`${__ENV.TARGET}/echo?op=me`, { headers: { Authorization: `Bearer ${token}` } });
  const sent = res.json('header.authorization').slice('Bearer '.length);
  const claims = verify(sent, SECRET);
  check(res, {
    'token sent': () => sent === token,
    'verifies': () => claims && claims.sub === 'user-42' && claims.name === 'Zoë',
    'tampered fails': () => verify(token.replace(/.$/, token.endsWith('A') ? 'B' : 'A'), SECRET) === null,
    'sha256 known': () => crypto.sha256('abc', 'hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  });
  console.log(`corpus jwt: token=${token}`);
}
