/** Public surface of the interpreter: explanations of raised/escalated alerts by an Ollama model. */
export { startInterpreter, type Interpreter, type InterpreterOptions, type InterpreterMetrics, type ContextSources } from "./interpreter.ts"
export { makeOllamaModel, type Model, type OllamaModelOptions } from "./ollama-model.ts"
export { parseExplanation, type Explanation } from "./annotation.ts"
export { buildPrompt, situationKey, systemPrompt, type Situation } from "./prompt.ts"
export { Breaker, Lru } from "./breaker.ts"
export { ModelUnavailable } from "./errors.ts"
