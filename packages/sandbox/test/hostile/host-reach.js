// expect: ok
// output: ["undefined","undefined","undefined","undefined","undefined","undefined","undefined","undefined"]
// None of the host's capabilities exist in the sandbox.
export default () => [
  typeof require,
  typeof process,
  typeof setTimeout,
  typeof queueMicrotask,
  typeof fetch,
  typeof WebAssembly,
  typeof SharedArrayBuffer,
  typeof Atomics
]
