import { check, randomSeed } from 'k6';
import http from 'k6/http';

export const options = { vus: 1, iterations: 2, thresholds: { checks: ['rate==1'] } };

randomSeed(7);
const seeded = [Math.random(), Math.random()];

class Shape {
  static count = 0;
  #id;
  constructor(name) { this.name = name; this.#id = ++Shape.count; }
  get id() { return this.#id; }
  area() { throw new Error('abstract'); }
  toString() { return `${this.name}#${this.#id}(${this.area().toFixed(2)})`; }
}
class Rect extends Shape {
  constructor(w, h) { super('rect'); Object.assign(this, { w, h }); }
  area() { return this.w * this.h; }
}
class Circle extends Shape {
  constructor(r) { super('circle'); this.r = r; }
  area() { return Math.PI * this.r ** 2; }
}

function* fib(limit) { let [a, b] = [0, 1]; while (a < limit) { yield a; [a, b] = [b, a + b]; } }
const tag = (strings, ...vals) => strings.raw.map((s, i) => s + (vals[i] ?? '')).join('');

export default function () {
  const shapes = [new Rect(2, 3), new Circle(1), new Rect(1, 1)];
  const byName = new Map();
  for (const s of shapes) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const names = new Set(shapes.map(({ name }) => name));
  const { rect: [first, ...restRects] = [], circle = [] } = Object.fromEntries(byName);
  const fibs = [...fib(50)];
  const bytes = new TextEncoder().encode('naïve ☕');
  const res = http.get(`${__ENV.TARGET}/modern?fib=${fibs.at(-1)}`);
  check(res, {
    'status': (r) => r.status === 200,
    'classes': () => first.area() === 6 && restRects.length === 1 && circle.length === 1 && first.id >= 1,
    'map and set': () => byName.size === 2 && names.has('circle') && [...names].join() === 'rect,circle',
    'generators': () => fibs.join() === '0,1,1,2,3,5,8,13,21,34',
    'tagged template': () => tag`a${1}b${2}c` === 'a1b2c',
    'utf-8 bytes': () => bytes.length === 10,
    'seeded random': () => seeded[0] !== seeded[1] && seeded.every((x) => x >= 0 && x < 1),
    'string methods': () => 'ab'.padStart(4, '-') === '--ab' && ' x '.trimEnd() === ' x' && 'k6'.at(-1) === '6',
  });
  if (__ITER === 0) console.log(`corpus modern: shapes=${shapes.join(' ')} seeded=${seeded[0]} fibs=${fibs.length}`);
}
