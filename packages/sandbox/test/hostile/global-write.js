// expect: ScriptError
// errorName: TypeError
// The global object of a script is frozen: nothing can be left there for a later call.
export default () => {
  globalThis.leak = "from an earlier call"
  return 1
}
