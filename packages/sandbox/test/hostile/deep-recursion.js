// expect: ScriptError
// errorName: RangeError
export default () => {
  const down = (n) => down(n + 1) + 1
  return down(0)
}
