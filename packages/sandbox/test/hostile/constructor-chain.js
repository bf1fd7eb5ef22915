// expect: ScriptError
// errorName: TypeError
// Constructor chains end at a tamed Function.prototype.constructor that throws.
export default () => {
  const F = (() => {}).constructor
  return F("return process")().pid
}
