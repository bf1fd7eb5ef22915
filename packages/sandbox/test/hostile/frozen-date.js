// expect: ScriptError
// errorName: TypeError
// Date is real (time is not virtualized) but its prototype is frozen like every intrinsic.
export default () => {
  Date.prototype.toJSON = () => "hacked"
  return new Date(0)
}
