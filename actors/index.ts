/** Public surface of actors/: the actor kinds. */
export * from "./device/index.ts"
