// Built-ins Duktape 2.7 lacks, in ES5, one section per polyfill (controller/polyfill.h).
// A section starts with a line "//@<name> [<dependency> ...]" and ends where the next begins.
// The controller concatenates the sections a program needs, in this file's order, inside
//   (function (g) { <sections> })(this);
// so they share |def| and |S| below and see the global object as |g|. Each only defines what
// is missing, with the spec's attributes (non-enumerable methods), and follows the spec on the
// usual cases rather than on every corner (no species, no realms).
//@base
var S = Symbol.iterator, hop = Object.prototype.hasOwnProperty;
function def(o, k, v) {
  if (!(k in o)) Object.defineProperty(o, k, {value: v, writable: true, configurable: true});
}
function done() { return {value: undefined, done: true}; }
function len(o) { var n = Math.floor(Number(o.length)) || 0; return n < 0 ? 0 : n; }
function fn(f, who) {
  if (typeof f !== 'function') throw new TypeError(who + ': ' + f + ' is not a function');
  return f;
}
function iterate(it, each, that) {
  if (it == null) throw new TypeError(it + ' is not iterable');
  if (typeof it === 'string' && typeof it[S] !== 'function') it = it.split('');
  if (Array.isArray(it)) { for (var i = 0; i < it.length; i++) each.call(that, it[i]); return; }
  var get = it[S];
  if (typeof get !== 'function') throw new TypeError(it + ' is not iterable');
  for (var r, i2 = get.call(it); !(r = i2.next()).done;) each.call(that, r.value);
}
//@iter base
(function () {
  function ArrayIter(a, kind) { this.a = a; this.i = 0; this.k = kind; }
  def(ArrayIter.prototype, 'next', function () {
    var a = this.a, i = this.i;
    if (!a || i >= len(a)) { this.a = null; return done(); }
    this.i = i + 1;
    return {value: this.k === 0 ? a[i] : this.k === 1 ? i : [i, a[i]], done: false};
  });
  def(ArrayIter.prototype, S, function () { return this; });
  function kind(k) { return function () { return new ArrayIter(Object(this), k); }; }
  var values = kind(0), keys = kind(1), entries = kind(2), protos = [Array.prototype];
  ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
   'Uint32Array', 'Float32Array', 'Float64Array'].forEach(function (n) {
    if (g[n]) protos.push(g[n].prototype);
  });
  protos.forEach(function (p) {
    def(p, 'values', values);
    def(p, 'keys', keys);
    def(p, 'entries', entries);
    def(p, S, values);
  });
  function StringIter(s) { this.s = s; this.i = 0; }
  def(StringIter.prototype, 'next', function () {
    var s = this.s, i = this.i;
    if (s === null || i >= s.length) { this.s = null; return done(); }
    var c = s.charCodeAt(i), n = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
      (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    this.i = i + n;
    return {value: s.substr(i, n), done: false};
  });
  def(StringIter.prototype, S, function () { return this; });
  def(String.prototype, S, function () { return new StringIter(String(this)); });
})();
//@coll base
// Map and Set: a doubly linked list of entries in insertion order, indexed by a key string for
// primitives and by an id stored on object keys (under a symbol: invisible to for-in, keys and
// JSON). A deleted entry keeps its |n| link so a live iterator standing on it walks on.
var coll = (function () {
  var ID = Symbol('sbId'), ST = Symbol('sbColl'), nid = 0;
  function key(k) {
    var t = typeof k;
    if (t === 'string') return 's' + k;
    if (t === 'number') return k !== k ? 'NaN' : 'n' + (k === 0 ? 0 : k);
    if (k === null || t === 'undefined' || t === 'boolean') return 'p' + k;
    if (t === 'symbol') return null;
    if (!hop.call(k, ID)) {
      if (!Object.isExtensible(k)) return null;
      Object.defineProperty(k, ID, {value: ++nid});
    }
    return 'o' + k[ID];
  }
  function state(m, who) {
    var s = m != null && typeof m === 'object' ? m[ST] : undefined;
    if (!s) throw new TypeError(who + ' called on an incompatible receiver');
    return s;
  }
  function find(s, k) {
    var h = key(k);
    if (h !== null) return s.i[h];
    for (var e = s.h; e; e = e.n) if (!e.r && (e.k === k)) return e;
  }
  function It(s, kind) { this.s = s; this.c = null; this.k = kind; }
  def(It.prototype, 'next', function () {
    var s = this.s;
    if (!s) return done();
    var e = this.c ? this.c.n : s.h;
    while (e && e.r) e = e.n;
    if (!e) { this.s = null; return done(); }
    this.c = e;
    return {value: this.k === 0 ? e.k : this.k === 1 ? e.v : [e.k, e.v], done: false};
  });
  def(It.prototype, S, function () { return this; });
  function define(C, name, set) {
    var P = C.prototype;
    def(P, 'has', function (k) { return !!find(state(this, name + '.has'), k); });
    def(P, 'delete', function (k) {
      var s = state(this, name + '.delete'), e = find(s, k), h;
      if (!e) return false;
      e.r = true;
      if (e.p) e.p.n = e.n; else s.h = e.n;
      if (e.n) e.n.p = e.p; else s.t = e.p;
      if ((h = key(k)) !== null) delete s.i[h];
      s.size--;
      return true;
    });
    def(P, 'clear', function () {
      var s = state(this, name + '.clear');
      for (var e = s.h; e; e = e.n) e.r = true;
      s.h = s.t = null; s.i = Object.create(null); s.size = 0;
    });
    def(P, 'forEach', function (f, that) {
      var s = state(this, name + '.forEach');
      fn(f, name + '.forEach');
      for (var e = s.h; e; e = e.n) if (!e.r) f.call(that, set ? e.k : e.v, e.k, this);
    });
    Object.defineProperty(P, 'size', {configurable: true,
      get: function () { return state(this, 'get ' + name + '.size').size; }});
    def(P, 'values', function () { return new It(state(this, name + '.values'), set ? 0 : 1); });
    def(P, 'keys', function () { return new It(state(this, name + '.keys'), 0); });
    def(P, 'entries', function () { return new It(state(this, name + '.entries'), 2); });
    def(P, S, set ? P.values : P.entries);
    if (Symbol.toStringTag) Object.defineProperty(P, Symbol.toStringTag, {value: name});
    def(g, name, C);
  }
  function init(m, C, name) {
    if (!(m instanceof C) || m[ST]) throw new TypeError("Constructor " + name +
      " requires 'new'");
    m[ST] = {i: Object.create(null), h: null, t: null, size: 0};
    return m[ST];
  }
  function add(s, k, v) {
    var e = find(s, k), h;
    if (e) { e.v = v; return; }
    if (k === 0) k = 0;
    e = {k: k, v: v, n: null, p: s.t, r: false};
    if (s.t) s.t.n = e; else s.h = e;
    s.t = e; s.size++;
    if ((h = key(k)) !== null) s.i[h] = e;
  }
  return {define: define, init: init, add: add, find: find, state: state};
})();
//@map coll
if (!g.Map) (function () {
  function Map(items) {
    var s = coll.init(this, Map, 'Map');
    if (items != null) iterate(items, function (e) {
      if (Object(e) !== e) throw new TypeError('Iterator value ' + e + ' is not an entry object');
      coll.add(s, e[0], e[1]);
    });
  }
  def(Map.prototype, 'get', function (k) {
    var e = coll.find(coll.state(this, 'Map.get'), k);
    return e ? e.v : undefined;
  });
  def(Map.prototype, 'set', function (k, v) {
    coll.add(coll.state(this, 'Map.set'), k, v);
    return this;
  });
  coll.define(Map, 'Map', false);
})();
//@set coll
if (!g.Set) (function () {
  function Set(items) {
    var s = coll.init(this, Set, 'Set');
    if (items != null) iterate(items, function (v) { coll.add(s, v, v); });
  }
  def(Set.prototype, 'add', function (v) {
    coll.add(coll.state(this, 'Set.add'), v, v);
    return this;
  });
  coll.define(Set, 'Set', true);
})();
//@weak base
// WeakMap and WeakSet keep each value on its key, under a symbol of the collection's own: the
// value lives exactly as long as the key, with no table to leak.
function weak(name, set) {
  var ST = Symbol('sbWeak');
  function check(k) {
    if (Object(k) !== k) throw new TypeError('Invalid value used ' +
      (set ? 'in weak set' : 'as weak map key'));
    return k;
  }
  function sym(m, who) {
    var s = m != null && typeof m === 'object' ? m[ST] : undefined;
    if (!s) throw new TypeError(name + '.' + who + ' called on an incompatible receiver');
    return s;
  }
  function C(items) {
    if (!(this instanceof C) || this[ST]) throw new TypeError("Constructor " + name +
      " requires 'new'");
    this[ST] = Symbol(name);
    var self = this;
    if (items != null) iterate(items, function (e) {
      if (set) self.add(e); else self.set(e[0], e[1]);
    });
  }
  var P = C.prototype;
  def(P, 'has', function (k) { var s = sym(this, 'has'); return Object(k) === k && hop.call(k, s); });
  def(P, 'delete', function (k) {
    var s = sym(this, 'delete');
    return Object(k) === k && hop.call(k, s) && delete k[s];
  });
  function put(self, who, k, v) {
    var s = sym(self, who);
    Object.defineProperty(check(k), s, {value: v, writable: true, configurable: true});
    return self;
  }
  if (set) def(P, 'add', function (k) { return put(this, 'add', k, true); });
  else {
    def(P, 'set', function (k, v) { return put(this, 'set', k, v); });
    def(P, 'get', function (k) {
      var s = sym(this, 'get');
      return Object(k) === k && hop.call(k, s) ? k[s] : undefined;
    });
  }
  if (Symbol.toStringTag) Object.defineProperty(P, Symbol.toStringTag, {value: name});
  if (!g[name]) def(g, name, C);
}
//@weakmap weak
weak('WeakMap', false);
//@weakset weak
weak('WeakSet', true);
//@array_from base
def(Array, 'from', function (items, f, that) {
  if (items == null) throw new TypeError(items + ' is not iterable');
  if (f !== undefined) fn(f, 'Array.from');
  var out = [], i = 0;
  function put(v) { out.push(f ? f.call(that, v, i) : v); i++; }
  if (typeof items[S] === 'function' && !Array.isArray(items)) iterate(items, put);
  else for (var o = Object(items), n = len(o); i < n;) put(o[i]);
  return out;
});
//@array_of base
def(Array, 'of', function () { return Array.prototype.slice.call(arguments); });
//@array_find base
(function (A) {
  function finder(last, index) {
    return function (f, that) {
      var o = Object(this), n = len(o);
      fn(f, 'Array.prototype.find');
      for (var j = 0; j < n; j++) {
        var i = last ? n - 1 - j : j;
        if (f.call(that, o[i], i, o)) return index ? i : o[i];
      }
      return index ? -1 : undefined;
    };
  }
  def(A, 'find', finder(false, false));
  def(A, 'findIndex', finder(false, true));
  def(A, 'findLast', finder(true, false));
  def(A, 'findLastIndex', finder(true, true));
})(Array.prototype);
//@array_includes base
def(Array.prototype, 'includes', function (x, from) {
  var o = Object(this), n = len(o), i = Math.floor(Number(from)) || 0;
  for (i = i < 0 ? Math.max(n + i, 0) : i; i < n; i++) {
    var v = o[i];
    if (v === x || (v !== v && x !== x)) return true;
  }
  return false;
});
//@array_flat base
(function (A) {
  function flatten(out, a, depth) {
    for (var i = 0, n = len(a); i < n; i++) {
      if (!(i in a)) continue;
      if (depth > 0 && Array.isArray(a[i])) flatten(out, a[i], depth - 1);
      else out.push(a[i]);
    }
    return out;
  }
  def(A, 'flat', function (depth) {
    var d = depth === undefined ? 1 : Math.floor(Number(depth)) || 0;
    return flatten([], Object(this), d);
  });
  def(A, 'flatMap', function (f, that) {
    fn(f, 'Array.prototype.flatMap');
    return flatten([], A.map.call(Object(this), f, that), 1);
  });
})(Array.prototype);
//@array_misc base
(function (A) {
  def(A, 'fill', function (v, start, end) {
    var o = Object(this), n = len(o);
    var i = Math.floor(Number(start)) || 0, e = end === undefined ? n : Math.floor(Number(end)) || 0;
    for (i = i < 0 ? Math.max(n + i, 0) : Math.min(i, n),
         e = e < 0 ? Math.max(n + e, 0) : Math.min(e, n); i < e; i++) o[i] = v;
    return o;
  });
  function at(i) {
    var o = typeof this === 'string' ? this : Object(this), n = len(o);
    i = Math.floor(Number(i)) || 0;
    if (i < 0) i += n;
    return i < 0 || i >= n ? undefined : typeof o === 'string' ? o.charAt(i) : o[i];
  }
  def(A, 'at', at);
  def(String.prototype, 'at', at);
})(Array.prototype);
//@object_entries base
def(Object, 'entries', function (o) {
  var k = Object.keys(o), out = new Array(k.length);
  for (var i = 0; i < k.length; i++) out[i] = [k[i], o[k[i]]];
  return out;
});
def(Object, 'values', function (o) {
  var k = Object.keys(o), out = new Array(k.length);
  for (var i = 0; i < k.length; i++) out[i] = o[k[i]];
  return out;
});
//@object_from_entries base
def(Object, 'fromEntries', function (items) {
  var o = {};
  iterate(items, function (e) {
    if (Object(e) !== e) throw new TypeError('Iterator value ' + e + ' is not an entry object');
    Object.defineProperty(o, e[0], {value: e[1], writable: true, enumerable: true,
      configurable: true});
  });
  return o;
});
//@object_descriptors base
def(Object, 'getOwnPropertyDescriptors', function (o) {
  var out = {}, ks = Object.getOwnPropertyNames(o).concat(Object.getOwnPropertySymbols(o));
  for (var i = 0; i < ks.length; i++) {
    var d = Object.getOwnPropertyDescriptor(o, ks[i]);
    if (d) out[ks[i]] = d;
  }
  return out;
});
//@string_pad base
(function (P) {
  function pad(atStart) {
    return function (max, filler) {
      var s = String(this), n = Math.floor(Number(max)) || 0;
      var f = filler === undefined ? ' ' : String(filler);
      if (n <= s.length || f === '') return s;
      var fill = f.repeat(Math.ceil((n - s.length) / f.length)).slice(0, n - s.length);
      return atStart ? fill + s : s + fill;
    };
  }
  def(P, 'padStart', pad(true));
  def(P, 'padEnd', pad(false));
})(String.prototype);
//@string_trim base
(function (P) {
  def(P, 'trimStart', function () { return String(this).replace(/^[\s\uFEFF\xA0]+/, ''); });
  def(P, 'trimEnd', function () { return String(this).replace(/[\s\uFEFF\xA0]+$/, ''); });
  def(P, 'trimLeft', P.trimStart);
  def(P, 'trimRight', P.trimEnd);
})(String.prototype);
//@string_raw base
def(String, 'raw', function (strs) {
  var raw = Object(Object(strs).raw), n = len(raw), out = '';
  for (var i = 0; i < n; i++) {
    out += String(raw[i]);
    if (i + 1 < n && i + 1 < arguments.length) out += String(arguments[i + 1]);
  }
  return out;
});
//@promise base
// Promise (ES2015 + all/allSettled/race/any/finally/withResolvers) over a job queue that the VU
// drains: hooks.drain() runs the queued jobs (after the exported function returns and after every
// timer or async request callback, agent/vu.c) and then throws the first rejection nobody handled,
// as "Uncaught (in promise) ...". hooks.watch(v) reports how a returned promise settled;
// hooks.deferred() makes a promise with its resolve/reject for C code; hooks.reset() drops what
// an interrupted iteration left behind.
(function () {
  var jobs = [], head = 0, unhandled = [], ST = Symbol('sbPromise');
  var PENDING = 0, FULFILLED = 1, REJECTED = 2;
  function enqueue(f, a) { jobs.push(f, a); }
  function state(p, who) {
    var s = p != null && typeof p === 'object' ? p[ST] : undefined;
    if (!s) throw new TypeError(who + ' called on an object that is not a Promise');
    return s;
  }
  function settle(s, st, v) {
    if (s.st !== PENDING) return;
    var rs = s.rs;
    s.st = st;
    s.v = v;
    s.rs = null;
    for (var i = 0; i < rs.length; i++) enqueue(react, [s, rs[i]]);
    if (st === REJECTED && !s.handled) unhandled.push(s);
  }
  function resolveWith(p, s, v) {
    if (v === p) return settle(s, REJECTED, new TypeError('Chaining cycle detected for promise'));
    if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
      var then;
      try { then = v.then; } catch (e) { return settle(s, REJECTED, e); }
      if (typeof then === 'function') return enqueue(adopt, [p, s, v, then]);
    }
    settle(s, FULFILLED, v);
  }
  function once(p, s) {
    var done = false;
    return [function (v) { if (!done) { done = true; resolveWith(p, s, v); } },
            function (e) { if (!done) { done = true; settle(s, REJECTED, e); } }];
  }
  function adopt(a) { /* PromiseResolveThenableJob */
    var fns = once(a[0], a[1]);
    try { a[3].call(a[2], fns[0], fns[1]); } catch (e) { fns[1](e); }
  }
  function react(a) { /* PromiseReactionJob */
    var s = a[0], r = a[1], h = s.st === FULFILLED ? r.f : r.r, v;
    if (typeof h !== 'function') return (s.st === FULFILLED ? r.res : r.rej)(s.v);
    try { v = h(s.v); } catch (e) { return r.rej(e); }
    r.res(v);
  }
  function Promise(executor) {
    if (!(this instanceof Promise)) throw new TypeError("Promise constructor cannot be invoked without 'new'");
    fn(executor, 'Promise resolver');
    var s = {st: PENDING, v: undefined, rs: [], handled: false};
    Object.defineProperty(this, ST, {value: s});
    var fns = once(this, s);
    try { executor(fns[0], fns[1]); } catch (e) { fns[1](e); }
  }
  function capability(C) {
    var c = {};
    c.promise = new C(function (res, rej) { c.resolve = res; c.reject = rej; });
    return c;
  }
  var P = Promise.prototype;
  def(P, 'then', function (onF, onR) {
    var s = state(this, 'Promise.prototype.then'), c = capability(Promise);
    var r = {f: onF, r: onR, res: c.resolve, rej: c.reject};
    s.handled = true;
    if (s.st === PENDING) s.rs.push(r);
    else enqueue(react, [s, r]);
    return c.promise;
  });
  def(P, 'catch', function (onR) { return this.then(undefined, onR); });
  def(P, 'finally', function (f) {
    if (typeof f !== 'function') return this.then(f, f);
    return this.then(function (v) { return Promise.resolve(f()).then(function () { return v; }); },
      function (e) { return Promise.resolve(f()).then(function () { throw e; }); });
  });
  Object.defineProperty(P, Symbol.toStringTag, {value: 'Promise', configurable: true});
  def(Promise, 'resolve', function (v) {
    if (v instanceof Promise && v.constructor === this) return v;
    var c = capability(this);
    c.resolve(v);
    return c.promise;
  });
  def(Promise, 'reject', function (e) {
    var c = capability(this);
    c.reject(e);
    return c.promise;
  });
  def(Promise, 'withResolvers', function () { return capability(this); });
  /* all / allSettled / any: |each(i, v, c, out)| handles the settled item |i| */
  function combine(C, items, onF, onR, finish) {
    var c = capability(C), out = [], left = 1, i = 0;
    function done() { if (--left === 0) finish(c, out); }
    try {
      iterate(items, function (x) {
        var k = i++;
        out.push(undefined);
        left++;
        C.resolve(x).then(function (v) { if (onF(c, out, k, v)) done(); },
          function (e) { if (onR(c, out, k, e)) done(); });
      });
      done();
    } catch (e) { c.reject(e); }
    return c.promise;
  }
  def(Promise, 'all', function (items) {
    return combine(this, items, function (c, out, k, v) { out[k] = v; return true; },
      function (c, out, k, e) { c.reject(e); return false; },
      function (c, out) { c.resolve(out); });
  });
  def(Promise, 'allSettled', function (items) {
    return combine(this, items, function (c, out, k, v) {
      out[k] = {status: 'fulfilled', value: v}; return true;
    }, function (c, out, k, e) {
      out[k] = {status: 'rejected', reason: e}; return true;
    }, function (c, out) { c.resolve(out); });
  });
  def(Promise, 'any', function (items) {
    return combine(this, items, function (c, out, k, v) { c.resolve(v); return false; },
      function (c, out, k, e) { out[k] = e; return true; },
      function (c, out) {
        var e = new Error('All promises were rejected');
        e.name = 'AggregateError';
        e.errors = out;
        c.reject(e);
      });
  });
  def(Promise, 'race', function (items) {
    var c = capability(this), C = this;
    try {
      iterate(items, function (x) { C.resolve(x).then(c.resolve, c.reject); });
    } catch (e) { c.reject(e); }
    return c.promise;
  });
  if (typeof g.Promise !== 'function') def(g, 'Promise', Promise);
  function uncaught(v) {
    var e = v instanceof Error ? v : new Error(String(v));
    if (e === v) {
      try { e.message = 'Uncaught (in promise) ' + e.message; } catch (x) { /* frozen */ }
    } else {
      e.message = 'Uncaught (in promise) ' + e.message;
    }
    return e;
  }
  hooks.drain = function () {
    while (head < jobs.length) {
      var f = jobs[head], a = jobs[head + 1];
      jobs[head] = jobs[head + 1] = undefined;
      head += 2;
      f(a);
    }
    jobs.length = head = 0;
    for (var i = 0; i < unhandled.length; i++) {
      if (unhandled[i].handled) continue;
      var v = unhandled[i].v;
      unhandled.length = 0;
      throw uncaught(v);
    }
    unhandled.length = 0;
  };
  hooks.reset = function () { jobs.length = head = unhandled.length = 0; };
  hooks.watch = function (v) {
    var w = {st: FULFILLED, v: v};
    if (v instanceof Promise) {
      var s = v[ST];
      s.handled = true;
      w.st = s.st;
      w.v = s.v;
      if (s.st === PENDING)
        v.then(function (x) { w.st = FULFILLED; w.v = x; }, function (e) { w.st = REJECTED; w.v = e; });
    }
    return w;
  };
  hooks.deferred = function () { return capability(Promise); };
})();
