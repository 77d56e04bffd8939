import { describe, expect, test } from "bun:test"
import { nkeys } from "@nats-io/transport-node"
import { isSecretKey, redact, redactString } from "./redact.ts"

describe("redaction", () => {
  test("URL credentials are masked, the rest of the URL stays", () => {
    expect(redactString("http://akis:s3cret@10.0.0.5:8123/?database=x")).toBe("http://akis:***@10.0.0.5:8123/?database=x")
    expect(redactString("connect ECONNREFUSED for https://u:p%40ss@ch:8443 and nats://n:pw@h:4222")).toBe("connect ECONNREFUSED for https://u:***@ch:8443 and nats://n:***@h:4222")
    expect(redactString("http://127.0.0.1:8123")).toBe("http://127.0.0.1:8123")
    expect(redactString("http://ch:8123/?user=a&password=hunter2&x=1")).toBe("http://ch:8123/?user=a&password=***&x=1")
  })
  test("bearer tokens and nkey seeds are masked", () => {
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed())
    expect(redactString(`Authorization: Bearer akis_tok_abc.def`)).toBe("Authorization: Bearer ***")
    expect(redactString(`seed ${seed} loaded`)).toBe("seed *** loaded")
  })
  test("secret-named keys are masked at any depth; paths and empty values stay", () => {
    const cfg = { clickhouse: { url: "http://a:b@c", password: "pw", user: "default" }, nats: { pass: "x", credsFile: "/etc/akis/node.nk", tls: { keyFile: "k.pem" } }, api: { adminToken: "t", list: [{ secret: "s" }] }, empty: { password: "" } }
    expect(redact(cfg)).toEqual({ clickhouse: { url: "http://a:***@c", password: "***", user: "default" }, nats: { pass: "***", credsFile: "/etc/akis/node.nk", tls: { keyFile: "k.pem" } }, api: { adminToken: "***", list: [{ secret: "***" }] }, empty: { password: "" } })
    expect(["keyFile", "credsFile", "user", "tokens"].filter(isSecretKey)).toEqual([])
  })
})

test("a config error names a secret key but not its value", async () => {
  const { loadConfig } = await import("./index.ts")
  let msg = ""
  try {
    loadConfig({ env: {}, overrides: { clickhouse: { password: 12345678 }, nats: { pass: 87654321 } } })
  } catch (e) {
    msg = (e as Error).message
  }
  expect(msg).toContain("clickhouse.password: Expected string, got ***")
  expect(msg).toContain("nats.pass: Expected string, got ***")
  expect(msg).not.toContain("12345678")
  expect(msg).not.toContain("87654321")
})
