// expect: ScriptError
// errorName: NonError
export default () => {
  throw new Proxy(
    {},
    {
      get() {
        throw new Error("trap")
      }
    }
  )
}
