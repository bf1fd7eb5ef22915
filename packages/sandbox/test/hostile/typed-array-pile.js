// expect: ScriptMemoryLimit
// limits: {"memoryMb":32,"timeoutMs":5000}
export default () => {
  const keep = []
  for (let i = 0; i < 1000; i++) keep.push(new Uint8Array(2 ** 24))
  return keep.length
}
