// expect: ResultNotSerializable
// path: /secret
export default () => ({
  id: 1,
  get secret() {
    throw new Error("no")
  }
})
