// expect: ok
// output: 1
// A script may build its own compartment: it lives and dies with the call.
export default () => {
  const inner = new Compartment({ __options__: true, globals: {} })
  inner.evaluate("globalThis.x = 1")
  return inner.globalThis.x
}
