// expect: ScriptTimeout
// reason: deadline
// limits: {"timeoutMs":200}
// isolated-vm describes an unhandled rejection after the call, with no timeout: a looping getter hangs it.
// The supervisor kills the process at the deadline and restarts it.
export default () => {
  Promise.reject({
    // biome-ignore lint/suspicious/useGetterReturn: it never returns, on purpose
    get message() {
      while (Date.now() > 0) {}
    }
  })
  return 1
}
