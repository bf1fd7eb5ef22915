// expect: ScriptError
// errorName: TypeError
// Intrinsics are frozen (SES lockdown): no builtin prototype can be changed.
export default () => {
  Object.prototype.polluted = true
  return {}.polluted
}
