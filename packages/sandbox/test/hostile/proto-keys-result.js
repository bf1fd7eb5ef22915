// expect: ok
// output: {"ok":1,"nested":{"fine":true}}
// __proto__ and constructor keys are dropped when the result is parsed on the host.
export default () =>
  JSON.parse(
    '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1,"nested":{"__proto__":{"x":1},"fine":true}}'
  )
