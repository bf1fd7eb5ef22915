// expect: ok
// output: "string"
// V8's structured stack API would hand out CallSites (and their receivers): setting it has no effect.
export default () => {
  try {
    Error.prepareStackTrace = (_error, frames) => frames.map((frame) => frame.getThis())
  } catch {
    // frozen: fine too
  }
  return typeof new Error("x").stack
}
