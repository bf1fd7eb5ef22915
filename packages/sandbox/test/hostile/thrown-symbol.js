// expect: ScriptError
// errorName: NonError
export default () => {
  throw Symbol("boom")
}
