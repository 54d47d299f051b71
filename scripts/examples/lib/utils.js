// Helpers shared by the examples: a local stand-in for https://jslib.k6.io/k6-utils/1.2.0/index.js
// (speedboat does not fetch remote modules yet).

// A random integer in [min, max], both ends included.
export const randomIntBetween = (min, max) => Math.floor(Math.random() * (max - min + 1) + min);

// A random element of an array.
export const randomItem = (items) => items[randomIntBetween(0, items.length - 1)];
