// expect: ScriptError
// errorName: NonError
export default () => {
  throw 42
}
