// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
export default () => {
  let i = 0
  while (i >= 0) i++
}
