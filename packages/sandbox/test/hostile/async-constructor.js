// expect: ScriptError
// errorName: TypeError
export default async () => {
  const AsyncFunction = (async () => {}).constructor
  return await AsyncFunction("return require('fs')")()
}
