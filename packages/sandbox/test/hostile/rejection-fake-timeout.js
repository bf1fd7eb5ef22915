// expect: ScriptError
// errorName: Error
// A rejection left behind whose message imitates isolated-vm's own is still the script's error.
export default () => {
  Promise.reject(new Error("Script execution timed out."))
  return 1
}
