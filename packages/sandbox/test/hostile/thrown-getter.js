// expect: ScriptError
// errorName: NonError
export default () => {
  throw {
    get message() {
      throw new Error("no message for you")
    }
  }
}
