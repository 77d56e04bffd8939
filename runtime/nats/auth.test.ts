import { describe, expect, test } from "bun:test"
import { nkeys } from "@nats-io/transport-node"
import { mkdtempSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { authUsers, initCredentials, natsAuth, seedPath, type NatsAuthConfig } from "./auth.ts"

const o = { replicas: 1, telemetryMaxAgeHours: 1, alertsMaxAgeHours: 1 }
const base: NatsAuthConfig = { user: "", pass: "", credsDir: "", credsFile: "", inboxPrefix: "auto", tls: { caFile: "", certFile: "", keyFile: "" } }

describe("NATS credentials of a process", () => {
  test("a role loads <credsDir>/<role>.nk; its replies come on _INBOX_<role>; seeds are 0600", () => {
    const dir = mkdtempSync(join(tmpdir(), "akis-auth-"))
    expect(initCredentials(dir, o)).toEqual(["admin", "node", "gateway", "inspector", "api", "notifier"])
    expect(initCredentials(dir, o)).toEqual([]) // kept
    expect(statSync(seedPath(dir, "node")).mode & 0o777).toBe(0o600)
    const a = natsAuth({ ...base, credsDir: dir }, "gateway")
    expect(a.authenticator).toBeDefined()
    expect(a.inboxPrefix).toBe("_INBOX_gateway")
    expect(a.user).toBeUndefined()
    expect(a.tls).toBeUndefined()
    expect(authUsers(dir).map((u) => u.role)).toEqual(["admin", "node", "gateway", "inspector", "api", "notifier"])
    // a file named after a role carries that role's reply prefix, whatever the process
    expect(natsAuth({ ...base, credsFile: seedPath(dir, "inspector") }, "admin").inboxPrefix).toBe("_INBOX_inspector")
  })
  test("a missing file is refused with its path and the command that creates it", () => {
    expect(() => natsAuth({ ...base, credsDir: "/nonexistent/akis" }, "node")).toThrow(
      "NATS credentials for role node not found at /nonexistent/akis/node.nk: create them with `bun run ops nats-auth init`")
  })
  test("without credentials: user/pass if set, nothing otherwise; TLS only when configured; a fixed inbox prefix is kept", () => {
    expect(natsAuth({ ...base, user: "u", pass: "p", inboxPrefix: "_INBOX" }, "node")).toEqual({ user: "u", pass: "p", inboxPrefix: "_INBOX" })
    expect(natsAuth({ ...base, tls: { caFile: "/ca.pem", certFile: "", keyFile: "" } }, "api")).toEqual({ tls: { caFile: "/ca.pem" }, inboxPrefix: "_INBOX_api" })
  })
  test("a .creds file (user JWT + seed) is accepted for operator-mode servers", () => {
    const dir = mkdtempSync(join(tmpdir(), "akis-auth-"))
    const f = join(dir, "user.creds")
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed())
    writeFileSync(f, `-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.e30.sig\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`)
    const auth = natsAuth({ ...base, credsFile: f }, "node").authenticator as (nonce?: string) => { jwt?: string; nkey?: string }
    expect(auth("nonce").jwt).toBe("eyJ0eXAiOiJKV1QifQ.e30.sig") // sent as a user JWT, signed with the seed
    const seedOnly = join(dir, "node.nk")
    writeFileSync(seedOnly, `${seed}\n`)
    const plain = natsAuth({ ...base, credsFile: seedOnly }, "node").authenticator as (nonce?: string) => { jwt?: string; nkey?: string }
    expect([plain("nonce").jwt, plain("nonce").nkey?.startsWith("U")]).toEqual([undefined, true])
  })
})
