// expect: ScriptError
// errorName: TypeError
// Resizable buffers grow outside the memory limit: resize and transfer are removed.
export default () => {
  const buffer = new ArrayBuffer(1, { maxByteLength: 2 ** 30 })
  buffer.resize(2 ** 30)
  return buffer.byteLength
}
