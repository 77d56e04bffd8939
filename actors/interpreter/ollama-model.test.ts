import { afterAll, describe, expect, test } from "bun:test"
import { fakeExplanation, startOllamaFake } from "../../tests/harness/index.ts"
import { makeOllamaModel } from "./ollama-model.ts"

const fake = startOllamaFake()
afterAll(() => fake.stop())
const model = (o: Partial<Parameters<typeof makeOllamaModel>[0]> = {}) =>
  makeOllamaModel({ host: fake.url, model: "phi3:mini", api: "chat", stream: false, timeoutMs: 2_000, ...o })

describe("Ollama model (the real ollama client against an Ollama-compatible server)", () => {
  test.each([
    ["chat", false], ["chat", true], ["generate", false], ["generate", true],
  ] as const)("/api/%s with stream=%p answers the prompt", async (api, stream) => {
    fake.mode.behaviour = "ok"
    fake.mode.delayMs = 0
    expect(await model({ api, stream }).explain("Alert raised: x\nmore")).toBe(fakeExplanation("Alert raised: x"))
    const req = fake.requests.at(-1)!
    expect(req.path).toBe(`/api/${api}`)
    expect(req.body).toMatchObject({ model: "phi3:mini", stream })
  })

  test.each([
    ["an HTTP 500", "fail", 0, "error"],
    ["a body that is not JSON", "malformed", 0, "malformed"],
    ["no answer within the timeout", "ok", 1_000, "timeout"],
  ] as const)("%s fails with a reason", async (_, behaviour, delayMs, reason) => {
    fake.mode.behaviour = behaviour
    fake.mode.delayMs = delayMs
    await expect(model({ timeoutMs: 300 }).explain("a")).rejects.toMatchObject({ _tag: "ModelUnavailable", reason })
    fake.mode.behaviour = "ok"
    fake.mode.delayMs = 0
  })

  test("a server that is not there is unreachable", async () => {
    await expect(model({ host: "http://127.0.0.1:1" }).explain("a")).rejects.toMatchObject({ _tag: "ModelUnavailable", reason: "unreachable" })
  })
})
