// expect: ResultNotSerializable
// path:
export default () =>
  new Proxy(
    {},
    {
      ownKeys() {
        throw new Error("no keys")
      }
    }
  )
