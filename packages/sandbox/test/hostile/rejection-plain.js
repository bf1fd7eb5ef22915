// expect: ScriptError
// errorName: Error
// A promise left rejected and unhandled fails this call, and only this call.
export default () => {
  Promise.reject(new Error("left behind"))
  return 1
}
