// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// Returns at once, but leaves a chain of microtasks that never ends: they run within the call's budget.
export default () => {
  const again = () => Promise.resolve().then(again)
  again()
  return "returned"
}
