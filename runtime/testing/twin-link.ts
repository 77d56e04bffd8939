/**
 * A node's link to the in-memory twins, for failover tests: `cut` makes every call reject and holds
 * deliveries back until `heal` (a JetStream consumer or KV watch resumes where it was), `paused` holds everything back until it is lifted (a stopped process:
 * calls and deliveries wait, then go on with what the node knew before).
 */
import { NatsUnavailable } from "../errors.ts"
import type { Bus, BusMsg, JetStream, Kv, KvWatch, MessageFeed, OrderedConsumer } from "../nats/ports.ts"

export class Link {
  private isDown = false
  private isPaused = false
  private held: Array<() => void> = []

  get down(): boolean {
    return this.isDown
  }

  /** Cuts the link: calls reject, deliveries wait for {@link heal}. */
  cut(): void {
    this.isDown = true
  }

  heal(): void {
    this.isDown = false
    this.release()
  }

  get paused(): boolean {
    return this.isPaused
  }

  /** Holds calls and deliveries until {@link resume}. */
  pause(): void {
    this.isPaused = true
  }

  resume(): void {
    this.isPaused = false
    this.release()
  }

  /** Resolves when a call may go through; rejects while the link is cut. */
  pass(): Promise<void> {
    if (this.isDown) return Promise.reject(new NatsUnavailable({ servers: ["twin"] }))
    if (!this.isPaused) return Promise.resolve()
    return this.wait().then(() => this.pass())
  }

  /** Resolves when a delivery may go through (the link is neither cut nor paused). */
  delivery(): Promise<void> {
    if (!this.isDown && !this.isPaused) return Promise.resolve()
    return this.wait().then(() => this.delivery())
  }

  private wait(): Promise<void> {
    return new Promise<void>((r) => this.held.push(() => r()))
  }

  private release(): void {
    const h = this.held
    this.held = []
    for (const f of h) f()
  }
}

const through = <T>(link: Link, op: () => Promise<T>): Promise<T> => link.pass().then(op)

/** Delivers `it`'s values only while the link is up (and not paused). */
const gatedIterable = <T>(link: Link, it: AsyncIterable<T>): AsyncIterable<T> => ({
  [Symbol.asyncIterator]() {
    const inner = it[Symbol.asyncIterator]()
    return {
      next: async () => {
        const r = await inner.next()
        if (!r.done) await link.delivery()
        return r
      },
      return: async () => (inner.return ? inner.return() : { value: undefined, done: true }),
    }
  },
})

export const linkKv = (kv: Kv, link: Link): Kv => ({
  get: (k) => through(link, () => kv.get(k)),
  put: (k, v) => through(link, () => kv.put(k, v)),
  create: (k, v) => through(link, () => kv.create(k, v)),
  update: (k, v, r) => through(link, () => kv.update(k, v, r)),
  delete: (k, o) => through(link, () => kv.delete(k, o)),
  watch: (o) => through(link, async () => {
    const w = await kv.watch(o)
    const g = gatedIterable(link, w)
    const lw: KvWatch = { [Symbol.asyncIterator]: () => g[Symbol.asyncIterator](), stop: () => w.stop() }
    return lw
  }),
  keys: (f) => through(link, () => kv.keys(f)),
})

export const linkJetStream = (js: JetStream, link: Link): JetStream => ({
  durableConsumer: (s, n) => through(link, async () => {
    const c = await js.durableConsumer(s, n)
    return { fetch: (o) => through(link, async () => gatedIterable(link, await c.fetch(o))) }
  }),
  publish: (s, d, o) => through(link, () => js.publish(s, d, o)),
  streamState: (s) => through(link, () => js.streamState(s)),
  orderedConsumer: (s, o) => through(link, async (): Promise<OrderedConsumer> => {
    const c = await js.orderedConsumer(s, o)
    return {
      pending: (atCreation) => through(link, () => c.pending(atCreation)),
      consume: (co) => through(link, async (): Promise<MessageFeed> => {
        const f = await c.consume(co)
        const g = gatedIterable(link, f)
        return { [Symbol.asyncIterator]: () => g[Symbol.asyncIterator](), close: () => f.close() }
      }),
    }
  }),
})

export const linkBus = (bus: Bus, link: Link): Bus => ({
  subscribe: (subject, handler) => bus.subscribe(subject, (m: BusMsg) => {
    if (!link.down) void link.delivery().then(() => handler(m)) // lost while cut, as core NATS loses it
  }),
  publish: (subject, data) => void link.pass().then(() => bus.publish(subject, data), () => {}),
  request: (subject, data, timeoutMs) => through(link, () => bus.request(subject, data, timeoutMs)),
})
