// expect: ok
// output: []
// The script's own Function (and eval) evaluate in its compartment: the global object they see holds
// nothing of the host or of the sandbox runtime.
export default () => {
  const g = Function("return globalThis")()
  const names = Object.getOwnPropertyNames(g)
  return ["process", "require", "ivm", "__start", "__register", "__finish", "lockdown", "module"].filter((n) =>
    names.includes(n)
  )
}
