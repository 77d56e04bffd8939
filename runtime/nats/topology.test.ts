import { describe, expect, test } from "bun:test"
import { renderAuthorization, rolePermissions } from "./permissions.ts"
import { definitions, streamDifferences, wantedStream, type StreamDef, type TopologyOptions } from "./topology.ts"

const o: TopologyOptions = { replicas: 3, telemetryMaxAgeHours: 168, alertsMaxAgeHours: 720, telemetryMaxMB: 10_240, alertsMaxMB: 1_024 }
const tlm = definitions.find((d) => d.kind === "stream" && d.name === "AKIS_TLM") as StreamDef

describe("topology table", () => {
  test("a stream's wanted settings come from the row and the config, byte limit included", () => {
    expect(wantedStream(tlm, o)).toMatchObject({
      name: "AKIS_TLM", subjects: ["akis.tlm.*"], num_replicas: 3, max_age: 168 * 3600e9, max_bytes: 10_240 * 1024 * 1024,
      duplicate_window: 120e9, retention: "limits", storage: "file",
    })
  })
  test("every owned setting that differs is reported; subject order and unowned settings are not", () => {
    const want = wantedStream(tlm, o)
    expect(streamDifferences(want, { ...want, subjects: ["akis.tlm.*"], max_msgs: 5, sealed: false })).toEqual([])
    expect(streamDifferences(want, { ...want, num_replicas: 1, max_age: 24 * 3600e9, max_bytes: -1, storage: "memory" as never, duplicate_window: 60e9 })).toEqual([
      "num_replicas is 1, configured 3", "storage is \"memory\", configured \"file\"", "max_age is 86400 s, configured 604800 s",
      "max_bytes is unlimited, configured 10240 MiB", "duplicate_window is 60 s, configured 120 s",
    ])
    expect(streamDifferences(want, { ...want, subjects: ["akis.tlm.>"], retention: "workqueue" as never })).toEqual([
      "subjects is [\"akis.tlm.>\"], configured [\"akis.tlm.*\"]", "retention is \"workqueue\", configured \"limits\"",
    ])
  })
})

describe("role permissions", () => {
  test("the gateway may publish readings, check AKIS_TLM and hear the nodes' lag, nothing else", () => {
    expect(rolePermissions("gateway", o)).toEqual({
      publish: { allow: ["$JS.API.INFO", "$JS.API.STREAM.INFO.AKIS_TLM", "akis.tlm.*"], deny: [] },
      subscribe: { allow: ["_INBOX_gateway.>", "akis.ctl.lag.>"], deny: [] },
    })
  })
  test("only the node may answer requests (to the other roles' reply prefixes); nobody but admin may update, delete or purge streams or use $JS.API.>", () => {
    for (const r of ["node", "gateway", "inspector", "api", "notifier"] as const) {
      const p = rolePermissions(r, o)!
      const replies = p.publish.allow.filter((s) => s.startsWith("_INBOX"))
      expect(replies).toEqual(r === "node" ? ["_INBOX_admin.>", "_INBOX_api.>", "_INBOX_gateway.>", "_INBOX_inspector.>", "_INBOX_node.>", "_INBOX_notifier.>"] : [])
      const bad = p.publish.allow.filter((s) => /STREAM\.(UPDATE|DELETE)|\$JS\.API\.>|^>$|\$JS\.>|ACCOUNT|SERVER|_INBOX\./.test(s) || (/STREAM\.PURGE/.test(s) && r !== "node"))
      expect(bad).toEqual([])
      expect(p.subscribe.allow.filter((s) => s.startsWith("_INBOX"))).toEqual([`_INBOX_${r}.>`])
    }
    expect(rolePermissions("admin", o)).toBeUndefined()
  })
  test("the alert writer's durable is denied to every role but the node", () => {
    for (const r of ["api", "notifier"] as const) {
      expect(rolePermissions(r, o)!.publish.deny).toContain("$JS.API.CONSUMER.MSG.NEXT.AKIS_ALERTS.akis_sink_alerts")
      expect(rolePermissions(r, o)!.publish.deny).toContain("$JS.ACK.AKIS_ALERTS.akis_sink_alerts.>")
    }
    expect(rolePermissions("node", o)!.publish.allow).toContain("$JS.API.CONSUMER.MSG.NEXT.AKIS_ALERTS.akis_sink_alerts")
  })
  test("the generated server block has users and permissions but no accounts (CVE-2023-47090)", () => {
    const conf = renderAuthorization([{ role: "admin", nkey: "UADMIN" }, { role: "gateway", nkey: "UGW" }], o)
    expect(conf).toContain("{ nkey: UGW, permissions: $GATEWAY }")
    expect(conf).toContain(`"$JS.API.STREAM.INFO.AKIS_TLM"`) // quoted: unquoted $JS would be a variable reference
    expect(conf).not.toMatch(/\baccounts\b|system_account|no_auth_user/)
  })
})
