/**
 * NATS subject permissions of each akis role, derived from the topology table (pure), and the
 * nats-server `authorization` block that grants them to nkey users. Verified on nats-server
 * 2.9.10 with nats.js 3.4 (research/nats-security.md §3-§5); docs/security.md lists what each
 * role may do.
 *
 * Deliberately absent: an `accounts` block. On nats-server < 2.9.23 an accounts block next to
 * `authorization` can admit anonymous clients with full rights (CVE-2023-47090).
 */
import { definitions, roles, streamName, type Access, type ConsumerDef, type Role, type TopologyOptions } from "./topology.ts"

/** One user's permissions as nats-server's config takes them; undefined = everything (admin). */
export interface Permissions {
  readonly publish: { readonly allow: string[]; readonly deny: string[] }
  readonly subscribe: { readonly allow: string[]; readonly deny: string[] }
}

/** Reply subject prefix of a role (`nats.inboxPrefix: auto`): a role can subscribe only its own. */
export const inboxPrefixOf = (role: Role): string => `_INBOX_${role}`

const api = (s: string) => `$JS.API.${s}`
const rank: Record<Access, number> = { create: 0, read: 1, watch: 2, write: 3 }
const atLeast = (a: Access | undefined, b: Access) => a !== undefined && rank[a] >= rank[b]

/** What `role` may publish and subscribe to. */
export const rolePermissions = (role: Role, o: TopologyOptions): Permissions | undefined => {
  if (role === "admin") return undefined
  const pub = new Set<string>([api("INFO")])
  const deny = new Set<string>()
  const sub = new Set<string>([`${inboxPrefixOf(role)}.>`])
  const consumers = definitions.filter((d): d is ConsumerDef => d.kind === "consumer")

  for (const d of definitions) {
    if (d.kind === "consumer") {
      if (!d.users.includes(role)) continue
      const name = d.durable(o)
      for (const s of [`CONSUMER.CREATE.${d.stream}.${name}`, `CONSUMER.CREATE.${d.stream}.${name}.>`, `CONSUMER.DURABLE.CREATE.${d.stream}.${name}`,
        `CONSUMER.INFO.${d.stream}.${name}`, `CONSUMER.MSG.NEXT.${d.stream}.${name}`]) pub.add(api(s))
      pub.add(`$JS.ACK.${d.stream}.${name}.>`)
      continue
    }
    const access: Access | undefined = role === "node" ? (d.access.node ?? "write") : d.access[role]
    if (access === undefined) continue
    const sn = streamName(d)
    pub.add(api(`STREAM.INFO.${sn}`))
    if (role === "node") pub.add(api(`STREAM.CREATE.${sn}`)) // creates what is missing, never updates or deletes
    if (d.kind === "kv") {
      if (atLeast(access, "read")) for (const s of [`DIRECT.GET.${sn}`, `DIRECT.GET.${sn}.>`, `STREAM.MSG.GET.${sn}`]) pub.add(api(s))
      if (atLeast(access, "watch")) {
        for (const s of [`CONSUMER.CREATE.${sn}.>`, `CONSUMER.INFO.${sn}.*`, `CONSUMER.DELETE.${sn}.*`]) pub.add(api(s))
        pub.add("$JS.FC.>") // flow control of KV watch (ordered push consumers)
      }
      if (atLeast(access, "write")) pub.add(`$KV.${d.name}.>`)
    } else if (d.kind === "obj") {
      if (atLeast(access, "read")) for (const s of [`DIRECT.GET.${sn}`, `DIRECT.GET.${sn}.>`, `STREAM.MSG.GET.${sn}`]) pub.add(api(s))
      if (atLeast(access, "write")) {
        pub.add(`$O.${d.name}.>`)
        pub.add(api(`STREAM.PURGE.${sn}`))
        for (const s of [`CONSUMER.CREATE.${sn}.>`, `CONSUMER.INFO.${sn}.*`, `CONSUMER.DELETE.${sn}.*`, `CONSUMER.MSG.NEXT.${sn}.*`]) pub.add(api(s))
        pub.add("$JS.FC.>")
      }
    } else {
      // Streams: `watch` = own consumers, `write` = publish only (a gateway writes AKIS_TLM but may not read it).
      if (access === "watch" || role === "node") {
        // Own (ephemeral or durable) consumers on the stream; other roles' durables stay out of reach.
        for (const s of [`CONSUMER.CREATE.${sn}.>`, `CONSUMER.INFO.${sn}.*`, `CONSUMER.DELETE.${sn}.*`, `CONSUMER.MSG.NEXT.${sn}.*`]) pub.add(api(s))
        pub.add(`$JS.ACK.${sn}.>`)
        for (const c of consumers.filter((c) => c.stream === sn && !c.users.includes(role))) {
          const name = c.durable(o)
          for (const s of [`CONSUMER.CREATE.${sn}.${name}`, `CONSUMER.CREATE.${sn}.${name}.>`, `CONSUMER.DURABLE.CREATE.${sn}.${name}`,
            `CONSUMER.MSG.NEXT.${sn}.${name}`, `CONSUMER.DELETE.${sn}.${name}`]) deny.add(api(s))
          deny.add(`$JS.ACK.${sn}.${name}.>`)
        }
      }
      if (access === "write" || role === "node") for (const s of d.subjects) pub.add(s)
    }
  }

  switch (role) {
    case "node":
      pub.add("akis.ctl.released.*")
      pub.add("akis.ctl.lag.>") // its intake lag, for the gateways' admission (gateway/cluster-lag.ts)
      pub.add("akis.rpc.*") // a node's notifier asks device actors for their windows (interpreter prompts)
      // Answers to RPC and control requests go to the asking role's reply prefix. Not
      // `allow_responses`: with it nats-server records the reply subject of every message it
      // delivers to the node (each JetStream delivery has one) for 2 minutes and, past 4,096
      // entries, rescans that map on every delivery; at 2,000 readings/s that tripled NATS's CPU.
      for (const r of roles) pub.add(`${inboxPrefixOf(r)}.>`) // its own too: a node's notifier asks other nodes' actors
      for (const s of ["akis.rpc.*", "akis.ctl.released.*", "akis.ctl.stats.*", "akis.ctl.drain.*", "akis.ctl.lag.>", "akis.history"]) sub.add(s)
      break
    case "inspector":
      for (const s of ["STREAM.LIST", "STREAM.NAMES", "CONSUMER.LIST.*", "CONSUMER.NAMES.*", "CONSUMER.INFO.*.*"]) pub.add(api(s))
      pub.add("akis.ctl.stats.*") // read-only questions: node stats, actor state, history
      pub.add("akis.rpc.*")
      pub.add("akis.history")
      break
    case "api":
      for (const s of ["STREAM.LIST", "STREAM.NAMES"]) pub.add(api(s))
      pub.add("akis.rpc.*")
      pub.add("akis.ctl.stats.*")
      pub.add("akis.history")
      sub.add("akis.alerts.>")
      sub.add("akis.tlm.*") // the dashboard's live fleet view: the newest reading per device, while someone looks
      break
    case "notifier":
      // explanations and annotations of alerts (not transitions: those come from the nodes' actors)
      for (const s of ["akis.alerts.explanation.>", "akis.alerts.annotation.>"]) pub.add(s)
      break
    case "gateway":
      sub.add("akis.ctl.lag.>") // the nodes' intake lag: no new devices while the cluster lags (gateway/cluster-lag.ts)
      break
  }
  return {
    publish: { allow: [...pub].sort(), deny: [...deny].sort() },
    subscribe: { allow: [...sub].sort(), deny: [] },
  }
}

/** A user of the generated config: an nkey (public key) and the role whose rights it gets. */
export interface AuthUser {
  readonly role: Role
  readonly nkey: string
}

const quote = (s: string) => JSON.stringify(s) // `$JS...` must be quoted or it reads as a variable

const renderPermissions = (p: Permissions): string => {
  const list = (xs: string[]) => `[${xs.map(quote).join(", ")}]`
  const part = (x: { allow: string[]; deny: string[] }) => `{ allow: ${list(x.allow)}${x.deny.length ? `, deny: ${list(x.deny)}` : ""} }`
  return `{\n    publish: ${part(p.publish)}\n    subscribe: ${part(p.subscribe)}\n  }`
}

/**
 * The `authorization { ... }` block for nats-server (2.9+): one permission set per role and
 * one nkey user per key. Include it in a server config (`include auth.conf`) or paste it.
 */
export const renderAuthorization = (users: ReadonlyArray<AuthUser>, o: TopologyOptions): string => {
  const lines = ["# Generated by `bun run ops nats-auth` from akis's topology table: do not edit by hand.", "authorization {"]
  for (const r of roles) {
    const p = rolePermissions(r, o)
    if (p) lines.push(`  ${r.toUpperCase()} = ${renderPermissions(p)}`)
  }
  lines.push("  users = [")
  for (const u of users) {
    lines.push(u.role === "admin" ? `    { nkey: ${u.nkey} }  # admin: every subject` : `    { nkey: ${u.nkey}, permissions: $${u.role.toUpperCase()} }  # ${u.role}`)
  }
  lines.push("  ]", "}")
  return lines.join("\n") + "\n"
}
