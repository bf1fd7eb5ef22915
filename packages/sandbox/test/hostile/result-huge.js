// expect: ResultTooLarge
export default () => new Array(2e6).fill("xxxxxxxx")
