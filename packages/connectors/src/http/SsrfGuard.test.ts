import { assert, describe, it } from "@effect/vitest"
import { classifyAddress, makeGuard } from "./SsrfGuard.ts"

describe("classifyAddress", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "shared"],
    ["169.254.169.254", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["8.8.8.8", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:7f00:1::", "loopback"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["fe80::1%eth0", "link-local"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "documentation"],
    ["2606:4700:4700::1111", "public"],
    ["example.org", "reserved"]
  ]
  for (const [address, expected] of cases) {
    it(`${address} is ${expected}`, () => assert.strictEqual(classifyAddress(address), expected))
  }
})

describe("makeGuard", () => {
  it("lets public literals through and blocks internal ones unless a CIDR or host allows them", async () => {
    const guard = makeGuard({ enabled: true, allow: ["10.20.0.0/16", "fd00::/8", "internal.test"] })
    assert.deepStrictEqual(await guard.check("8.8.8.8"), { address: "8.8.8.8", family: 4 })
    assert.deepStrictEqual(await guard.check("10.20.3.4"), { address: "10.20.3.4", family: 4 })
    assert.deepStrictEqual(await guard.check("[fd00::5]"), { address: "fd00::5", family: 6 })
    for (const host of ["10.21.0.1", "127.0.0.1", "[::1]", "169.254.169.254"]) {
      const error = await guard.check(host).then(
        () => undefined,
        (e: Error) => e
      )
      assert.strictEqual(error?.name, "SsrfBlocked", host)
    }
  })

  it("rejects a malformed allow entry", () => {
    assert.throws(() => makeGuard({ enabled: true, allow: ["10.0.0.0/x"] }), /not a CIDR/)
  })
})
