// What a script can reach of the host: nothing. Every name below reads as undefined in the sandbox.
export default () => ({
  require: typeof require,
  process: typeof process,
  fetch: typeof fetch,
  setTimeout: typeof setTimeout,
  WebAssembly: typeof WebAssembly,
  SharedArrayBuffer: typeof SharedArrayBuffer
})
