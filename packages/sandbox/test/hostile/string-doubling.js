// expect: ScriptError
// errorName: RangeError
// V8 refuses strings over ~512 MB before the heap notices.
export default () => {
  let text = "x"
  for (let i = 0; i < 64; i++) text += text
  return text.length
}
