// expect: ScriptMemoryLimit
// limits: {"timeoutMs":20000,"memoryMb":16}
export default () => {
  const keep = []
  for (let i = 0; i < 1e9; i++) keep.push({ i, text: `item ${i}` })
  return keep.length
}
