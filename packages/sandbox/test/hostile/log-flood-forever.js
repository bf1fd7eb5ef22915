// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
export default () => {
  while (Date.now() > 0) console.log("again")
}
