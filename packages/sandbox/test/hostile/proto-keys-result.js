// expect: ok
// output: {"constructor":{"prototype":{"polluted":true}},"ok":1,"nested":{"fine":true}}
// __proto__ keys are dropped when the result is parsed on the host; constructor stays an own data key,
// which pollutes nothing (the corpus runner checks the host's prototypes after every script).
export default () =>
  JSON.parse(
    '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1,"nested":{"__proto__":{"x":1},"fine":true}}'
  )
