// expect: ScriptTimeout
// reason: cpu
// limits: {"timeoutMs":200}
// Catching the stack overflow and recursing again: exponential work, stopped by the timeout.
export default () => {
  const again = () => {
    try {
      again()
    } catch {
      again()
    }
  }
  again()
}
