import type { Clock } from "../clock.ts"
import { TopologyUnavailable } from "../errors.ts"
import { MemoryBus } from "./memory-bus.ts"
import { MemoryJetStream, type MemoryStreamDef } from "./memory-jetstream.ts"
import { MemoryKv } from "./memory-kv.ts"
import type { DurableSpec, NatsPorts, Setup } from "./ports.ts"
import { definitions, type StreamDef, type TopologyOptions } from "./topology.ts"

/**
 * The in-memory twin of {@link Setup}: rows of the topology table become streams of the
 * JetStream twin (subjects and duplicate window from the row), durables on it (ack wait and
 * filter from the row) and buckets kept by name, so opening one again gives the same bucket.
 * Not modelled: settings that contradict the table (no TopologyConflict), limits, permissions,
 * a durable's max ack pending.
 */
export class MemorySetup implements Setup {
  /** Buckets opened so far, by name (tests read and write them directly). */
  readonly buckets = new Map<string, MemoryKv>()

  constructor(private readonly js: MemoryJetStream) {}

  async ensure(only: ReadonlyArray<string>, o: TopologyOptions): Promise<void> {
    const rows = definitions.filter((d) => only.includes(d.kind === "consumer" ? d.key : d.name))
    for (const d of rows) {
      if (d.kind === "stream") this.js.addStream(memoryStream(d))
      else if (d.kind === "kv") this.kv(d.name)
    }
    for (const d of rows) {
      if (d.kind !== "consumer") continue
      const c = d.config(o)
      this.js.addDurable(d.stream, d.durable(o), { ackWaitMs: (c.ack_wait ?? 30e9) / 1e6, ...(c.filter_subject ? { filterSubject: c.filter_subject } : {}) })
    }
  }

  async ensureDurable(stream: string, d: DurableSpec): Promise<void> {
    this.js.addDurable(stream, d.name, { ackWaitMs: d.ackWaitMs, startAt: d.startAt })
  }

  async bucket(name: string, _o: TopologyOptions, own?: { readonly ttlMs: number }): Promise<MemoryKv> {
    if (!own && !definitions.some((d) => d.kind === "kv" && d.name === name)) {
      throw new TopologyUnavailable({ message: `${name} is not a KV bucket of the topology table` })
    }
    return this.kv(name)
  }

  private kv(name: string): MemoryKv {
    let kv = this.buckets.get(name)
    if (!kv) this.buckets.set(name, (kv = new MemoryKv()))
    return kv
  }
}

/** A row's stream as the JetStream twin takes it. */
export const memoryStream = (d: StreamDef): MemoryStreamDef => ({ name: d.name, subjects: d.subjects, duplicateWindowMs: d.duplicateWindowSec * 1000 })

/**
 * The in-memory twin of {@link NatsPorts}: JetStream, Bus and Setup twins on one clock; the
 * streams of the table's rows are added as a component ensures them. `down` makes
 * {@link connected} false (a connection that is reconnecting).
 */
export class MemoryNats implements NatsPorts {
  readonly js: MemoryJetStream
  readonly bus: MemoryBus
  readonly setup: MemorySetup
  down = false

  constructor(clock: Clock, streams: ReadonlyArray<MemoryStreamDef> = []) {
    this.js = new MemoryJetStream(streams, clock)
    this.bus = new MemoryBus(clock)
    this.setup = new MemorySetup(this.js)
  }

  connected(): boolean {
    return !this.down
  }
}
